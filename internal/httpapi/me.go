package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

type profileResponse struct {
	ID             int64     `json:"id"`
	Username       string    `json:"username,omitempty"`
	Email          string    `json:"email,omitempty"`
	FirstName      string    `json:"first_name,omitempty"`
	LastName       string    `json:"last_name,omitempty"`
	Role           string    `json:"role"`
	TelegramLinked bool      `json:"telegram_linked"`
	CreatedAt      time.Time `json:"created_at"`
}

// me is GET /v1/me: the caller's own profile.
func (s *Server) me(c *gin.Context) error {
	pr, err := s.principal(c)
	if err != nil {
		return err
	}
	u, err := s.accounts.Profile(c.Request.Context(), pr)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, profileResponse{
		ID:             u.ID,
		Username:       u.Username,
		Email:          u.Email,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		Role:           string(u.Role),
		TelegramLinked: u.ChatConfirmed(),
		CreatedAt:      u.CreatedAt,
	})
	return nil
}
