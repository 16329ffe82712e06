package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
)

// The NOWATCH dialect: email accounts, token pairs, resets by code. Like
// every client API route, each first checks the client token (Server.api).

type successResponse struct {
	Status string `json:"status"`
}

var success = successResponse{Status: "success"}

type pairResponse struct {
	Access    string `json:"access"`
	Refresh   string `json:"refresh"`
	ExpiresIn int64  `json:"expiresIn"`
}

func toPair(t *account.Tokens) pairResponse {
	return pairResponse{Access: t.Access, Refresh: t.Refresh, ExpiresIn: int64(t.ExpiresIn / time.Second)}
}

// registerEmail is POST /v1/auth/register.
func (s *Server) registerEmail(c *gin.Context) error {
	f, err := readFields(c, "email", "password", "first_name", "last_name", "toc_accepted_at", "privacy_policy_accepted_at")
	if err != nil {
		return err
	}
	if err := s.limit(c, "register", f["email"]); err != nil {
		return err
	}
	_, err = s.accounts.RegisterEmail(c.Request.Context(), account.RegisterEmailParams{
		Email:                   f["email"],
		Password:                f["password"],
		FirstName:               f["first_name"],
		LastName:                f["last_name"],
		TOCAcceptedAt:           f["toc_accepted_at"],
		PrivacyPolicyAcceptedAt: f["privacy_policy_accepted_at"],
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, success)
	return nil
}

// loginPair is POST /v1/auth/login and /v2/auth/login; with admin,
// /v2/auth/login/admin.
func (s *Server) loginPair(admin bool) func(*gin.Context) error {
	return func(c *gin.Context) error {
		f, err := readFields(c, "email", "username", "password")
		if err != nil {
			return err
		}
		t, err := s.loginWith(c, account.LoginParams{
			Name:     nameOf(f),
			Password: f["password"],
			Admin:    admin,
		})
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toPair(t))
		return nil
	}
}

// loginWith logs in under the login limits, from the request's client.
func (s *Server) loginWith(c *gin.Context, p account.LoginParams) (*account.Tokens, error) {
	p.IP, p.UserAgent = c.ClientIP(), c.Request.UserAgent()
	known := func() (bool, error) {
		return s.accounts.KnownNetwork(c.Request.Context(), p.Name, p.IP)
	}
	if err := s.limitKnown(c, "login", p.Key(), known); err != nil {
		return nil, err
	}
	return s.accounts.Login(c.Request.Context(), p)
}

// refreshNames: NOWATCH calls the refresh token refresh.
var refreshNames = wireNames{account.FieldRefreshToken: "refresh"}

// refresh is POST /v1/auth/refresh.
func (s *Server) refresh(c *gin.Context) error {
	f, err := readFields(c, "refresh")
	if err != nil {
		return err
	}
	t, err := s.accounts.Refresh(c.Request.Context(), f["refresh"])
	if err != nil {
		return refreshNames.named(err)
	}
	c.JSON(http.StatusOK, toPair(t))
	return nil
}

// forgotPassword is POST /v1/auth/forgot_password.
func (s *Server) forgotPassword(c *gin.Context) error {
	f, err := readFields(c, "email", "username")
	if err != nil {
		return err
	}
	n := nameOf(f)
	if err := s.limit(c, "forgot", n.Key()); err != nil {
		return err
	}
	err = s.accounts.ForgotPassword(c.Request.Context(), n)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, success)
	return nil
}

// confirmNames: NOWATCH calls the reset code verification_code.
var confirmNames = wireNames{account.FieldCode: "verification_code"}

// confirmNewPassword is POST /v1/auth/confirm_new_password.
func (s *Server) confirmNewPassword(c *gin.Context) error {
	f, err := readFields(c, "email", "username", "verification_code", "new_password")
	if err != nil {
		return err
	}
	n := nameOf(f)
	if err := s.limit(c, "confirm", n.Key()); err != nil {
		return err
	}
	err = s.accounts.ConfirmNewPassword(c.Request.Context(), account.ConfirmParams{
		Name:        n,
		Code:        f["verification_code"],
		NewPassword: f["new_password"],
	})
	if err != nil {
		return confirmNames.named(err)
	}
	c.JSON(http.StatusOK, success)
	return nil
}

// signOut is POST /v1/auth/sign-out: a bearer token and the email or the
// username of its user; every session of the user ends.
func (s *Server) signOut(c *gin.Context) error {
	pr, f, err := s.signedIn(c, "email", "username")
	if err != nil {
		return err
	}
	if err := s.accounts.SignOut(c.Request.Context(), pr, nameOf(f)); err != nil {
		return err
	}
	c.JSON(http.StatusOK, success)
	return nil
}

type linkResponse struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
}

// linkNames: the link route calls the current password password.
var linkNames = wireNames{account.FieldCurrentPassword: "password"}

// telegramLink is POST /v1/telegram/link: a deep link that binds the chat
// opening it to the caller's account, for the current password.
func (s *Server) telegramLink(c *gin.Context) error {
	pr, f, err := s.reauthenticating(c, "password")
	if err != nil {
		return err
	}
	l, err := s.accounts.CreateLink(c.Request.Context(), pr, f["password"])
	if err != nil {
		return linkNames.named(err)
	}
	c.JSON(http.StatusOK, linkResponse{Link: l.URL, ExpiresAt: l.ExpiresAt})
	return nil
}
