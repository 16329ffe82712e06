package account_test

import (
	"os/exec"
	"strings"
	"testing"
)

// telegramLib is the Telegram client library; only the bot may link it.
const telegramLib = "github.com/go-telegram-bot-api/telegram-bot-api"

// The domain stays free of transports and storage: arrows point inward.
// And the API binary, which never talks to Telegram, links neither the
// bot nor its library; neither product binary links the testing package
// or the fake Telegram (only the playground, a tool, does).
func TestDependencies(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"tgauth/internal/account", []string{"net/http", "database/sql", "github.com/gin-gonic/gin", "modernc.org/sqlite",
			"github.com/jackc/pgx", telegramLib, "tgauth/internal/bot", "tgauth/internal/store", "tgauth/internal/httpapi", "tgauth/internal/config"}},
		{"tgauth/cmd/api", []string{telegramLib, "tgauth/internal/bot", "testing", "tgauth/internal/telegramtest", "tgauth/internal/playground"}},
		{"tgauth/cmd/bot", []string{"testing", "tgauth/internal/telegramtest", "tgauth/internal/playground"}},
		{"tgauth/internal/store/storetest", []string{telegramLib, "tgauth/internal/bot"}},
		{"tgauth/internal/token", []string{"net/http", "database/sql", "tgauth/internal/account"}},
		{"tgauth/internal/password", []string{"net/http", "database/sql", "tgauth/internal/account"}},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", tt.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tt.pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list -deps %s listed %d packages; is the go command working?", tt.pkg, len(deps))
		}
		for _, dep := range deps {
			for _, f := range tt.forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", tt.pkg, dep)
				}
			}
		}
	}
}
