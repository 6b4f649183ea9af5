package server

import (
	"strconv"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/uptrace/bunrouter"
)

// ifMatch reads an optional If-Match header holding the version the client
// edited (e.g. `If-Match: "3"` or `If-Match: 3`) into version, unless the
// body already sent one. Optimistic concurrency: the store answers 409 when
// the stored version differs.
func ifMatch(req bunrouter.Request, version *patch.Field[int]) error {
	h := strings.TrimSpace(req.Header.Get("If-Match"))
	if h == "" || version.HasValue() {
		return nil
	}
	h = strings.TrimPrefix(h, "W/")
	n, err := strconv.Atoi(strings.Trim(h, `"`))
	if err != nil || n < 1 {
		return apperr.BadRequest("invalid_if_match", "If-Match must hold the version number you edited, e.g. \"3\".")
	}
	*version = patch.Value(n)
	return nil
}
