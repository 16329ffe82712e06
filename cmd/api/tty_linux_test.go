package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal, or skips the test
// where there is none.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	// Not master.Fd(): that would make reads blocking, deaf to deadlines.
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	if cerr := rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// awaitEcho waits until tty's echo is on or off, as want says.
func awaitEcho(t *testing.T, tty *os.File, want bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO != 0 == want {
			return
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("echo never turned %v", want)
		}
	}
}

// On a terminal, user create asks for the password twice on stderr with
// echo off, refuses a mismatch, and gives up when interrupted (typed is
// empty), turning echo back on.
func TestUserCreateTerminal(t *testing.T) {
	const good = "Corr3ct-Horse!"
	tests := []struct {
		name    string
		typed   string
		wantErr string
		wantOut string
	}{
		{"match", good + "\n" + good + "\n", "", "created user 1 admin@example.com (admin)\n"},
		{"mismatch", good + "\n" + good + "x\n", "the passwords do not match", ""},
		{"empty", "\n", "empty password", ""},
		{"interrupted", "", "context canceled", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, tty := openPTY(t)
			env := map[string]string{"TGAUTH_DATABASE_PATH": filepath.Join(t.TempDir(), "tgauth.db")}
			environ := []string{"TGAUTH_DATABASE_PATH=" + env["TGAUTH_DATABASE_PATH"]}
			args := []string{"user", "create", "--email", "admin@example.com", "--admin"}
			var out, errOut strings.Builder
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, args, func(k string) string { return env[k] }, environ, tty, &out, &errOut)
			}()
			// Typed while echo is off, the whole input is never echoed,
			// though the second prompt turns echo off anew.
			awaitEcho(t, tty, false)
			if tt.typed == "" {
				cancel()
			} else if _, err := io.WriteString(master, tt.typed); err != nil {
				t.Fatal(err)
			}
			err := <-done
			if tt.wantErr == "" && err != nil {
				t.Fatalf("run(%q) = %v; stderr:\n%s", args, err, errOut.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run(%q) = %v, want an error containing %q", args, err, tt.wantErr)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), "Password: ") {
				t.Errorf("stderr = %q, want a prompt", errOut.String())
			}
			if strings.Count(tt.typed, "\n") == 2 && !strings.Contains(errOut.String(), "Repeat password: ") {
				t.Errorf("stderr = %q, want a second prompt", errOut.String())
			}
			awaitEcho(t, tty, true) // restored

			if err := master.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				t.Skipf("cannot read the terminal's output: %v", err)
			}
			echoed, _ := io.ReadAll(master)
			all := string(echoed) + out.String() + errOut.String()
			if err != nil {
				all += err.Error()
			}
			if strings.Contains(all, "Horse") {
				t.Errorf("the password reached the output: %q", all)
			}
		})
	}
}
