package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// profileResponse has one shape for the accounts of both dialects: every
// field is there, null where the account has no such thing (a Watchdog
// account's email, a NOWATCH account's username).
type profileResponse struct {
	ID             int64     `json:"id"`
	Username       *string   `json:"username"`
	Email          *string   `json:"email"`
	FirstName      *string   `json:"first_name"`
	LastName       *string   `json:"last_name"`
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
		Username:       orNull(u.Username),
		Email:          orNull(u.Email),
		FirstName:      orNull(u.FirstName),
		LastName:       orNull(u.LastName),
		Role:           string(u.Role),
		TelegramLinked: u.ChatConfirmed(),
		CreatedAt:      u.CreatedAt,
	})
	return nil
}

// orNull is v, or nil (JSON null) for "".
func orNull(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}
