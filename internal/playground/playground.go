// Package playground is a stand-in for Telegram, for trying tgauth without
// a Telegram account: the fake Bot API of telegramtest, which the real bot
// talks to, and a web page through which a person types in a chat and
// presses the bot's buttons. It is not Telegram and says so on the page.
package playground

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tgauth/internal/bot"
	"tgauth/internal/config"
	"tgauth/internal/telegramtest"
)

// Token is the bot token the playground's fake Telegram answers to; it
// guards nothing.
const Token = "1000000:playground-not-a-secret"

// Username is the bot's username, for the API's deep links
// (telegram.bot_username).
const Username = "tgauth_playground_bot"

// maxBody bounds a request body of the page's API.
const maxBody = 16 << 10

//go:embed page.html
var page []byte

// Server is the fake Telegram and the page, on one handler.
type Server struct {
	tg  *telegramtest.Server
	mux *http.ServeMux
}

// New makes a playground; Close ends the bot's long polls.
func New() *Server {
	s := &Server{
		// No flood limits: one person typing cannot hit them, and a refused
		// message would only puzzle them.
		tg:  telegramtest.NewServer(Token, telegramtest.WithUsername(Username), telegramtest.WithoutRateLimits()),
		mux: http.NewServeMux(),
	}
	s.mux.HandleFunc("/", s.botAPI)
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /playground/chats", s.chats)
	s.mux.HandleFunc("GET /playground/chats/{id}", s.chat)
	s.mux.HandleFunc("POST /playground/chats/{id}/messages", s.send)
	s.mux.HandleFunc("POST /playground/chats/{id}/presses", s.press)
	return s
}

// Handler serves the page at /, its API under /playground/ and the fake
// Bot API at /bot<token>/<method>.
func (s *Server) Handler() http.Handler { return s.mux }

// Close ends the bot's long polls; later calls fail.
func (s *Server) Close() { s.tg.Close() }

// botAPI serves the fake Bot API's /bot<token>/<method>, and 404 for any
// other path.
func (s *Server) botAPI(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/bot") {
		http.NotFound(w, r)
		return
	}
	s.tg.Handler().ServeHTTP(w, r)
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(page)
}

func (s *Server) chats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"chats": s.tg.Chats()})
}

// chatView is a chat as the page shows it.
type chatView struct {
	Messages []telegramtest.ChatMessage `json:"messages"`
	Answers  []string                   `json:"answers"` // to the chat's presses, oldest first
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	id, err := chatID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	v := chatView{Messages: s.tg.Chat(id), Answers: []string{}}
	if v.Messages == nil {
		v.Messages = []telegramtest.ChatMessage{}
	}
	for _, a := range s.tg.ChatAnswers(id) {
		v.Answers = append(v.Answers, a.Text)
	}
	writeJSON(w, http.StatusOK, v)
}

// send is the person typing text in the chat.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	id, err := chatID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := readJSON(w, r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if body.Text == "" || utf8.RuneCountInString(body.Text) > 4096 {
		writeError(w, http.StatusBadRequest, errors.New("text must be 1 to 4096 characters"))
		return
	}
	s.tg.InjectMessage(id, body.Text)
	w.WriteHeader(http.StatusAccepted)
}

// press is the person pressing a button the bot's message has now.
func (s *Server) press(w http.ResponseWriter, r *http.Request) {
	id, err := chatID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var body struct {
		MessageID int    `json:"message_id"`
		Data      string `json:"data"`
	}
	if err := readJSON(w, r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if !hasButton(s.tg.Chat(id), body.MessageID, body.Data) {
		writeError(w, http.StatusConflict, errors.New("that message has no such button (any more)"))
		return
	}
	s.tg.InjectCallback(id, body.MessageID, body.Data)
	w.WriteHeader(http.StatusAccepted)
}

func hasButton(chat []telegramtest.ChatMessage, messageID int, data string) bool {
	for _, m := range chat {
		if m.ID != messageID || m.FromUser {
			continue
		}
		for _, row := range m.Buttons {
			for _, b := range row {
				if b.Data != "" && b.Data == data {
					return true
				}
			}
		}
	}
	return false
}

// chatID is the path's chat id: a private chat's, so positive.
func chatID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("the chat id must be a positive integer")
	}
	return id, nil
}

// readJSON decodes a JSON body of the page's own: another site's page
// cannot send one (a cross-origin JSON POST needs a preflight this server
// never answers), and one that says where it comes from must come from
// here.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Header.Get("Content-Type") != "application/json" {
		return errors.New("send the body as application/json")
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return errors.New("cross-origin requests are refused")
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return errors.New("the body is not the JSON object expected")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// Run serves the playground on ln and runs the real bot against it, over
// the database cfg names, until ctx ends. The bot's token and Telegram
// address are the playground's; its metrics server is off.
func Run(ctx context.Context, cfg config.Config, ln net.Listener, log *slog.Logger) error {
	s := New()
	defer s.Close()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()

	cfg.Telegram.Token = Token
	cfg.Telegram.APIURL = "http://" + ln.Addr().String()
	cfg.Bot.MetricsAddr = ""
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		log.Warn("playground: listening beyond this machine: anyone who reaches it reads every chat, reset codes included, and can press any button",
			slog.String("addr", ln.Addr().String()))
	}
	log.Info("playground: open the page (this is not Telegram)", slog.String("url", "http://"+ln.Addr().String()+"/"))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			log.Error("playground server failed", slog.String("error", err.Error()))
			cancel()
		}
	}()
	return bot.Start(ctx, cfg, log, false)
}
