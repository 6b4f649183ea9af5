package settings

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrganisationSettings(t *testing.T) {
	t.Parallel()
	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
	webp := "data:image/webp;base64," + base64.StdEncoding.EncodeToString([]byte("RIFF\x10\x00\x00\x00WEBPVP8 "))
	ok := map[string][]string{
		OrganisationName: {`""`, `"ACME Corp"`, `"  Ünïcödé GmbH  "`},
		OrganisationLogo: {`""`, `"` + png + `"`, `"` + webp + `"`},
	}
	huge := "data:image/png;base64," + base64.StdEncoding.EncodeToString(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxOrganisationLogo)...))
	bad := map[string][]string{
		OrganisationName: {`null`, `1`, `"` + strings.Repeat("x", MaxOrganisationNameLen+1) + `"`, `"a\u0007b"`},
		OrganisationLogo: {`null`, `"https://acme.example/logo.png"`, `"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="`,
			`"data:image/png;base64,not base64!"`, `"data:image/png;base64,` + base64.StdEncoding.EncodeToString([]byte("GIF89a....")) + `"`,
			`"` + huge + `"`},
	}
	for key, vals := range ok {
		for _, v := range vals {
			_, err := Parse(key, json.RawMessage(v))
			assert.NoError(t, err, "%s = %.60s", key, v)
		}
	}
	for key, vals := range bad {
		for _, v := range vals {
			_, err := Parse(key, json.RawMessage(v))
			assert.ErrorIs(t, err, apperr.ErrInvalid, "%s = %.60s", key, v)
		}
	}
	ctx := context.Background()
	now := time.Now()
	s := New(Options{DB: dbtest.New(t), Now: func() time.Time { return now }})
	name, logo, err := s.Organisation(ctx)
	require.NoError(t, err)
	assert.Empty(t, name)
	assert.Empty(t, logo)
	_, _, err = s.Put(ctx, audit.Actor{Label: "test"}, OrganisationName, json.RawMessage(`"  ACME Corp "`))
	require.NoError(t, err)
	_, _, err = s.Put(ctx, audit.Actor{Label: "test"}, OrganisationLogo, json.RawMessage(`"`+png+`"`))
	require.NoError(t, err)
	name, logo, err = s.Organisation(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ACME Corp", name)
	assert.Equal(t, png, logo)
}
