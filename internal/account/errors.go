package account

import (
	"errors"
	"strings"
)

// The kinds of error the Service returns. Transports map them to statuses.
var (
	// ErrNotFound: no such record. Stores return it for a missing row.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record exists already, or changed under the use case.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: wrong login credentials. Unknown accounts, wrong
	// passwords and locked accounts all get this one error.
	ErrUnauthorized = errors.New("invalid credentials")
	// ErrInvalidToken: a bearer token that is missing, malformed, expired,
	// wrongly signed or names a revoked session.
	ErrInvalidToken = errors.New("invalid or expired token")
	// ErrWrongPassword: an authenticated user gave a wrong current password,
	// or any password while the account is locked to their network. The
	// Service returns it as a *WrongPasswordError naming the field.
	ErrWrongPassword = errors.New("wrong password")
	// ErrForbidden: the caller is who they say but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCode: a verification code that is wrong, expired, burned by
	// too many tries or used already; which one is not said.
	ErrInvalidCode = errors.New("invalid or expired code")
	// ErrUnavailable: a feature that needs configuration it lacks.
	ErrUnavailable = errors.New("unavailable")
)

// Field names an input of an operation in the errors it returns. The
// names are the domain's; a transport maps them to what its requests call
// the field (Watchdog's change-password sends FieldCurrentPassword as
// old_password, NOWATCH sends FieldCode as verification_code).
type Field string

// The inputs the Service's operations name in their errors.
const (
	FieldEmail                   Field = "email"
	FieldUsername                Field = "username"
	FieldPassword                Field = "password" // to sign in with, or to set at registration
	FieldCurrentPassword         Field = "current_password"
	FieldNewPassword             Field = "new_password"
	FieldFirstName               Field = "first_name"
	FieldLastName                Field = "last_name"
	FieldTOCAcceptedAt           Field = "toc_accepted_at"
	FieldPrivacyPolicyAcceptedAt Field = "privacy_policy_accepted_at"
	FieldChatID                  Field = "chat_id"
	FieldCode                    Field = "code"
	FieldRefreshToken            Field = "refresh_token"
)

// FieldError is one broken rule of one input field.
type FieldError struct {
	Field   Field
	Message string
}

// ValidationError lists every broken rule of a request's input.
type ValidationError struct {
	Fields []FieldError
}

// Add records that field broke the rule described by message.
func (e *ValidationError) Add(field Field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Has reports whether field broke any rule.
func (e *ValidationError) Has(field Field) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns e when it holds at least one broken rule, else nil.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = string(f.Field) + " " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// ConflictError says which field holds a value another account already has.
type ConflictError struct {
	Field Field
}

func (e *ConflictError) Error() string { return string(e.Field) + " is already taken" }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// WrongPasswordError says which field held the wrong current password.
type WrongPasswordError struct {
	Field Field
}

func (e *WrongPasswordError) Error() string { return string(e.Field) + " is not the current password" }

// Unwrap makes errors.Is(err, ErrWrongPassword) hold.
func (e *WrongPasswordError) Unwrap() error { return ErrWrongPassword }
