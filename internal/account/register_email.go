package account

import (
	"context"
	"fmt"
)

// RegisterEmailParams is what a NOWATCH registration supplies. The
// acceptance times are RFC 3339 text as the client sent them.
type RegisterEmailParams struct {
	Email                   string
	Password                string
	FirstName               string
	LastName                string
	TOCAcceptedAt           string
	PrivacyPolicyAcceptedAt string
}

// RegisterEmail creates a user named by an email address. It returns a
// *ValidationError for bad input and a *ConflictError when the email is
// taken (compared case-insensitively).
func (s *Service) RegisterEmail(ctx context.Context, p RegisterEmailParams) (*User, error) {
	now := s.clock()
	var ve ValidationError
	validateEmail(&ve, FieldEmail, p.Email)
	validateNewPassword(&ve, FieldPassword, p.Password, p.Email)
	validateName(&ve, FieldFirstName, p.FirstName, true)
	validateName(&ve, FieldLastName, p.LastName, false)
	toc := parseAcceptedAt(&ve, FieldTOCAcceptedAt, p.TOCAcceptedAt, now)
	privacy := parseAcceptedAt(&ve, FieldPrivacyPolicyAcceptedAt, p.PrivacyPolicyAcceptedAt, now)
	if err := ve.Err(); err != nil {
		return nil, err
	}
	u := &User{
		Email:                   p.Email,
		FirstName:               p.FirstName,
		LastName:                p.LastName,
		Role:                    RoleUser,
		TOCAcceptedAt:           toc,
		PrivacyPolicyAcceptedAt: privacy,
	}
	if err := s.createUser(ctx, u, p.Password, now); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// CreateUserParams is what an operator supplies to make an account.
type CreateUserParams struct {
	Email    string
	Username string // optional
	Password string
	Admin    bool
}

// CreateUser makes an account from the command line: an email, an
// optional username, a password under the policy, and the admin role if
// asked. It returns a *ValidationError or a *ConflictError like the
// registrations.
func (s *Service) CreateUser(ctx context.Context, p CreateUserParams) (*User, error) {
	var ve ValidationError
	validateEmail(&ve, FieldEmail, p.Email)
	if p.Username != "" {
		validateUsername(&ve, FieldUsername, p.Username)
	}
	validateNewPassword(&ve, FieldPassword, p.Password, p.Email, p.Username)
	if err := ve.Err(); err != nil {
		return nil, err
	}
	u := &User{Email: p.Email, Username: p.Username, Role: RoleUser}
	if p.Admin {
		u.Role = RoleAdmin
	}
	if err := s.createUser(ctx, u, p.Password, s.clock()); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}
