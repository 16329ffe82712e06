package httpapi

import (
	"context"
	"testing"

	"tgauth/internal/account"
)

// confirm_new_password refuses a new password the policy refuses alike
// for a known and an unknown account: the policy must not run only for
// accounts that exist, nor judge identities only a known account has.
func TestConfirmPolicyDoesNotEnumerate(t *testing.T) {
	tests := []struct {
		name           string
		known, unknown []string
	}{
		{"weak password, by username",
			[]string{"username", "bob", "verification_code", "123456", "new_password", "weak"},
			[]string{"username", "nobody", "verification_code", "123456", "new_password", "weak"}},
		{"weak password, by email",
			[]string{"email", spongebob, "verification_code", "123456", "new_password", "weak"},
			[]string{"email", "nobody@example.com", "verification_code", "123456", "new_password", "weak"}},
		{"password equal to the email named",
			[]string{"email", "Bob.Smith1!@Example.com", "verification_code", "123456", "new_password", "bob.smith1!@example.COM"},
			[]string{"email", "Bob.Smith2!@Example.com", "verification_code", "123456", "new_password", "bob.smith2!@example.COM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("bob", goodPassword, "55")
			e.registerEmail()
			if _, err := e.server.accounts.CreateUser(context.Background(), account.CreateUserParams{Email: "Bob.Smith1!@Example.com", Password: goodPassword}); err != nil {
				t.Fatal(err)
			}
			known := e.postForm("/v1/auth/confirm_new_password", tt.known...)
			unknown := e.postForm("/v1/auth/confirm_new_password", tt.unknown...)
			answersAlike(t, known, unknown)
		})
	}
}
