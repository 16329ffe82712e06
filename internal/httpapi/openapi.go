package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPISpec is the OpenAPI 3.1 document of every route New serves;
// openapi_test.go checks each real response against it.
//
//go:embed openapi.yaml
var openAPISpec []byte

// openAPI is GET /openapi.yaml: the document above.
func (s *Server) openAPI(c *gin.Context) error {
	c.Data(http.StatusOK, "application/yaml", openAPISpec)
	return nil
}
