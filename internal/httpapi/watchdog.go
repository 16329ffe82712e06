package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
)

type registerResponse struct {
	Message string `json:"message"`
	ID      int64  `json:"id"`
	ChatID  int64  `json:"chat_id"`
}

// registerNames: Watchdog calls the chat id account.
var registerNames = wireNames{account.FieldChatID: "account"}

// register is POST /v1/register/: username, password, account (chat id).
func (s *Server) register(c *gin.Context) error {
	f, err := readFields(c, "username", "password", "account")
	if err != nil {
		return err
	}
	if err := s.limit(c, "register", f["username"]); err != nil {
		return err
	}
	u, err := s.accounts.Register(c.Request.Context(), account.RegisterParams{
		Username: f["username"],
		Password: f["password"],
		ChatID:   f["account"],
	})
	if err != nil {
		return registerNames.named(err)
	}
	c.JSON(http.StatusCreated, registerResponse{
		Message: "User " + u.Username + " was created",
		ID:      u.ID,
		ChatID:  u.ChatID,
	})
	return nil
}

type tokenResponse struct {
	Token string `json:"token"`
}

// login is POST /v1/login/: username, password.
func (s *Server) login(c *gin.Context) error {
	f, err := readFields(c, "username", "password")
	if err != nil {
		return err
	}
	t, err := s.loginWith(c, account.LoginParams{Name: account.Name{Username: f["username"]}, Password: f["password"], ByUsername: true})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tokenResponse{Token: t.Access})
	return nil
}

type messageResponse struct {
	Message string `json:"message"`
}

// changePasswordNames: Watchdog calls the current password old_password.
var changePasswordNames = wireNames{account.FieldCurrentPassword: "old_password"}

// changePassword is POST /v1/change-password/: old_password, new_password,
// with a bearer token.
func (s *Server) changePassword(c *gin.Context) error {
	pr, f, err := s.reauthenticating(c, "old_password", "new_password")
	if err != nil {
		return err
	}
	if err := s.accounts.ChangePassword(c.Request.Context(), pr, f["old_password"], f["new_password"]); err != nil {
		return changePasswordNames.named(err)
	}
	c.JSON(http.StatusOK, messageResponse{Message: "Password changed successfully"})
	return nil
}
