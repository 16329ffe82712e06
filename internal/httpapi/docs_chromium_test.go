//go:build !nocontract

package httpapi

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tgauth/internal/chromiumtest"
)

var docsScreenshot = flag.String("docs-screenshot", "", "copy TestDocsInChromium's screenshot of /docs to this file")

// TestDocsInChromium loads /docs and /docs/ in Debian's headless chromium
// (chromiumtest): the page must list every operation of the spec, run "Try
// it out" against the server, and log no error (exception, console.error,
// failed load). It skips without chromium, unless CI is set: .ci/run
// installs it.
func TestDocsInChromium(t *testing.T) {
	ct := loadContract(t)
	var want []string
	for _, k := range ct.ops() {
		want = append(want, k.String())
	}

	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	t.Cleanup(srv.Close)

	// Cleanups run last in, first out: chromium closes before cancel.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	b := chromiumtest.Start(ctx, t)

	for _, p := range []string{"/docs", "/docs/"} {
		t.Run(p, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			page, err := b.NewPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := page.Navigate(ctx, srv.URL+p); err != nil {
				t.Fatal(err)
			}

			// Every operation, as the rendered page lists it.
			var got []string
			if err := page.Eval(ctx, docsOperationsJS, &got); err != nil {
				t.Fatalf("operations: %v", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s lists operations\n%s\nwant\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			// Try it out: GET /healthz from the page, to this server.
			var status string
			if err := page.Eval(ctx, docsTryItOutJS, &status); err != nil {
				t.Fatalf("try it out: %v", err)
			}
			if status != "200" {
				t.Errorf("%s: GET /healthz tried out answered %q, want 200", p, status)
			}

			png, err := page.Screenshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			shot := filepath.Join(t.TempDir(), "docs.png")
			if err := os.WriteFile(shot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			if *docsScreenshot != "" && p == "/docs" {
				if err := os.WriteFile(*docsScreenshot, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			for _, msg := range page.Problems() {
				t.Errorf("%s logged an error: %s", p, msg)
			}
		})
	}
}

// docsOperationsJS waits for Swagger UI to render the spec's operations
// and returns them as "METHOD /path".
const docsOperationsJS = `(async () => {
	await waitFor(() => document.querySelector('.opblock'));
	return [...document.querySelectorAll('.opblock')].map(op =>
		op.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
		op.querySelector('.opblock-summary-path').dataset.path);
})()`

// docsTryItOutJS opens GET /healthz, executes it (try-it-out is on, so
// there is no "Try it out" button to press first) and returns the status
// the page shows. Execute shows before the operation is resolved, when a
// click does nothing: the documented responses show after.
const docsTryItOutJS = `(async () => {
	const op = document.querySelector('#operations-Operations-healthz');
	op.querySelector('.opblock-summary-control').click();
	await waitFor(() => op.querySelector('#get_healthz_responses'));
	op.querySelector('button.execute').click();
	const cell = await waitFor(() => op.querySelector('.live-responses-table tr.response .response-col_status'));
	return cell.textContent.trim();
})()`
