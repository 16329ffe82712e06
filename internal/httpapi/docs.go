package httpapi

import (
	"io/fs"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5/static"
	"github.com/swaggest/swgui/v5emb"
)

// docsPath is the Swagger UI page rendering openapi.yaml for people. Its
// assets are served under docsPath+"/" by absolute URLs, so the page works
// at both /docs and /docs/, with no internet access: swgui embeds them.
const docsPath = "/docs"

// docsAssetsRoute answers GET /docs/ (the page again) and the assets.
// Gin cannot register both /docs/ and a catch-all under it, so this one
// route stands for the trailing-slash form of docsPath as well.
const docsAssetsRoute = docsPath + "/*asset"

// docsUI renders the page and serves the assets (gzipped when the client
// accepts it). Try-it-out is on: the page calls this server.
var docsUI = v5emb.NewHandlerWithConfig(swgui.Config{
	Title:       "tgauth",
	SwaggerJSON: "/openapi.yaml",
	BasePath:    docsPath + "/",
	SettingsUI: map[string]string{
		"tryItOutEnabled":        "true",
		"displayRequestDuration": "true",
	},
})

// docsAssets holds the names docsUI serves under docsPath+"/": the
// embedded files, without the .gz it stores most of them with.
var docsAssets = func() map[string]bool {
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		panic("swgui assets: " + err.Error()) // embedded: cannot fail
	}
	m := make(map[string]bool, len(entries))
	for _, e := range entries {
		m[strings.TrimSuffix(e.Name(), ".gz")] = true
	}
	return m
}()

// routeDocs registers GET /docs, /docs/ and the page's assets.
func (s *Server) routeDocs(e *gin.Engine) {
	h := s.handle(s.docs)
	e.GET(docsPath, h)
	e.GET(docsAssetsRoute, h)
}

// docs is GET /docs, /docs/ and /docs/{asset}. An unknown asset is our
// 404 problem, not the file server's text or its redirects.
func (s *Server) docs(c *gin.Context) error {
	if a := strings.TrimPrefix(c.Param("asset"), "/"); a != "" && !docsAssets[a] {
		return errNotFound
	}
	docsUI.ServeHTTP(c.Writer, c.Request)
	return nil
}
