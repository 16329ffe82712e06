//go:build !nocontract

package httpapi

import (
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// routeKey is the operation a registered route answers: the catch-all
// under /docs/ is the /docs/ form of GET /docs (its assets are not API
// operations; TestDocs covers them).
func routeKey(r gin.RouteInfo) opKey {
	if r.Method == http.MethodGet && r.Path == docsAssetsRoute {
		return opKey{r.Method, docsPath + "/"}
	}
	return opKey{r.Method, r.Path}
}

var (
	// assetRef finds what a page loads: <script src>, <link href>.
	assetRef = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
	// absURL finds absolute URLs anywhere in a page, with their host.
	absURL = regexp.MustCompile(`(?i)\bhttps?://([^/"'\s<>)]*)`)
)

// docsContentTypes is the Content-Type an asset must have, by extension.
var docsContentTypes = map[string]string{
	".js":  "application/javascript",
	".css": "text/css",
	".png": "image/png",
}

func TestDocs(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/docs", "/docs/"} {
		t.Run(p, func(t *testing.T) {
			rec := e.do(getReq(p, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", p, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
				t.Errorf("GET %s Content-Type = %q, want text/html", p, got)
			}
			page := rec.Body.String()
			if !strings.Contains(page, `"swaggerJsonUrl":"/openapi.yaml"`) {
				t.Errorf("GET %s does not point at /openapi.yaml:\n%s", p, page)
			}
			if !strings.Contains(page, "tryItOutEnabled: true") {
				t.Errorf("GET %s does not enable try-it-out:\n%s", p, page)
			}
			for _, m := range absURL.FindAllStringSubmatch(page, -1) {
				if m[1] != "" {
					t.Errorf("GET %s refers to another host: %s", p, m[0])
				}
			}

			// Resolve each reference against the page's own URL, as a
			// browser does: a relative one would break under one form.
			base := &url.URL{Scheme: "http", Host: "example.com", Path: p}
			refs := assetRef.FindAllStringSubmatch(page, -1)
			if len(refs) < 4 { // the bundle, the preset, the style, the icons
				t.Fatalf("GET %s references %d assets, want the bundle, preset, style and icons", p, len(refs))
			}
			for _, m := range refs {
				ref, err := url.Parse(m[1])
				if err != nil {
					t.Errorf("GET %s: bad reference %q: %v", p, m[1], err)
					continue
				}
				u := base.ResolveReference(ref)
				if u.Host != base.Host {
					t.Errorf("GET %s loads %s from another host", p, m[1])
					continue
				}
				arec := e.do(getReq(u.Path, nil))
				if arec.Code != http.StatusOK {
					t.Errorf("GET %s (%q in %s) = %d, want 200", u.Path, m[1], p, arec.Code)
					continue
				}
				ct, want := arec.Header().Get("Content-Type"), docsContentTypes[path.Ext(u.Path)]
				if want == "" || !strings.HasPrefix(ct, want) {
					t.Errorf("GET %s Content-Type = %q, want %q", u.Path, ct, want)
				}
				if arec.Body.Len() == 0 {
					t.Errorf("GET %s is empty", u.Path)
				}
			}
		})
	}

	t.Run("gzip", func(t *testing.T) {
		rec := e.do(getReq("/docs/swagger-ui-bundle.js", map[string]string{"Accept-Encoding": "gzip"}))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("GET /docs/swagger-ui-bundle.js with gzip = %d, Content-Encoding %q, want 200 gzip",
				rec.Code, rec.Header().Get("Content-Encoding"))
		}
	})

	// Only the embedded files are assets: the file server's own answers
	// (its text 404, its index.html redirect) never reach a client.
	for _, p := range []string{"/docs/nope.js", "/docs/index.html", "/docs/static/", "/docs//swagger-ui.css"} {
		t.Run(p, func(t *testing.T) {
			wantProblem(t, e.do(getReq(p, nil)), http.StatusNotFound, "not_found")
		})
	}
}
