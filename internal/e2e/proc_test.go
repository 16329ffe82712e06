package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"tgauth/internal/accounttest"
)

// buildCommand builds tgauth/cmd/<name> into a temp dir and returns the
// binary's path. The build is plain (never -race), so it reuses the
// cache `go test ./...` filled and the binary runs at full speed.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("the go command is needed to build cmd/%s: %v", name, err)
	}
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "tgauth/cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build tgauth/cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// proc is one run of a tgauth binary as a child process, with only the
// environment the test gives it.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	logs   *accounttest.LogBuffer // what it wrote to stderr and stdout
	lines  chan string            // the same, line by line, until it is full
	exited chan struct{}          // closed once Wait returned
	err    error                  // Wait's, after exited
}

// startProc starts bin with env. The test's cleanup kills it if it still
// runs; its output is logged if the test failed.
func startProc(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	p := &proc{
		t: t, name: filepath.Base(bin), logs: &accounttest.LogBuffer{},
		lines: make(chan string, 1024), exited: make(chan struct{}),
	}
	p.cmd = exec.Command(bin) // #nosec G204 -- a binary this test built
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			_, _ = p.logs.Write([]byte(sc.Text() + "\n"))
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		<-scanned
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", p.name, p.cmd.Process.Pid, p.logs)
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// await returns the first submatch of re in a line the process writes,
// failing the test if the process exits or ctx ends first.
func (p *proc) await(ctx context.Context, re *regexp.Regexp) string {
	p.t.Helper()
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-p.exited:
			p.t.Fatalf("%s exited (%v) before writing a line matching %s", p.name, p.err, re)
		case <-ctx.Done():
			p.t.Fatalf("%s wrote no line matching %s: %v", p.name, re, ctx.Err())
		}
	}
}

// openDB opens the database file read-only, as a separate connection pool
// from anything else the test holds.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	return accounttest.OpenRead(t, path)
}

// checkIntegrity fails the test unless SQLite finds the file sound.
func checkIntegrity(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	db := openDB(t, path)
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	if res != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want ok", res)
	}
}

// queryInt runs a query answering one integer.
func queryInt(ctx context.Context, t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// baseEnv is the environment every child gets besides its TGAUTH_ keys:
// nothing from the test's own TGAUTH_ variables leaks in.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	return append(env, extra...)
}
