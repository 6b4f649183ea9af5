package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type levelJSON struct {
	ID               string `json:"id"`
	Key              string `json:"key"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Rank             int    `json:"rank"`
	Color            string `json:"color"`
	CountsAsDetected bool   `json:"counts_as_detected"`
	IsSystem         bool   `json:"is_system"`
	InUse            int    `json:"in_use"`
}

func (e *apiEnv) levels(token string) []levelJSON {
	e.t.Helper()
	rec := e.call("GET", "/api/v1/detection-levels", "", token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	var p struct {
		Items []levelJSON `json:"items"`
		Total int         `json:"total"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Len(e.t, p.Items, p.Total)
	for i, l := range p.Items {
		require.Equal(e.t, i+1, l.Rank, "ranks are contiguous, in order")
	}
	return p.Items
}

func levelKeys(ls []levelJSON) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.Key)
	}
	return out
}

func levelByKey(t *testing.T, ls []levelJSON, key string) levelJSON {
	t.Helper()
	for _, l := range ls {
		if l.Key == key {
			return l
		}
	}
	require.Failf(t, "no such level", key)
	return levelJSON{}
}

func decodeLevel(t *testing.T, body []byte) levelJSON {
	t.Helper()
	var l levelJSON
	require.NoError(t, json.Unmarshal(body, &l), string(body))
	return l
}

var seededLevels = []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}

func TestDetectionLevelsCRUD(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)

	// Everyone signed in reads the vocabulary, in rank order.
	ls := e.levels(e.red)
	require.Equal(t, seededLevels, levelKeys(ls))
	for _, l := range ls {
		assert.True(t, l.IsSystem, l.Key)
		assert.Zero(t, l.InUse, l.Key)
	}
	assert.True(t, ls[1].CountsAsDetected)
	assert.False(t, ls[3].CountsAsDetected)
	rec := e.call("GET", "/api/v1/detection-levels/"+ls[0].ID, "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "blocked", decodeLevel(t, rec.Body.Bytes()).Key)
	assert.Equal(t, 404, e.call("GET", "/api/v1/detection-levels/"+db.NewID(), "", e.viewer).Code)
	assert.Equal(t, 404, e.call("GET", "/api/v1/detection-levels/nope", "", e.viewer).Code)

	// Create: last by default, or at a rank (the others move down).
	rec = e.call("POST", "/api/v1/detection-levels", `{"key":"found_by_ir","name":"Found by incident response",
		"description":"Caught later by IR","color":"#12ab9f","counts_as_detected":true}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	ir := decodeLevel(t, rec.Body.Bytes())
	assert.Equal(t, 7, ir.Rank)
	assert.Equal(t, "#12AB9F", ir.Color, "colours are stored as #RRGGBB")
	assert.False(t, ir.IsSystem)
	assert.True(t, ir.CountsAsDetected)
	rec = e.call("POST", "/api/v1/detection-levels", `{"key":"hunted","name":"Hunted","rank":3,"color":"#000000"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	hunted := decodeLevel(t, rec.Body.Bytes())
	assert.Equal(t, 3, hunted.Rank)
	assert.Equal(t, []string{"blocked", "alerted", "hunted", "logged", "none", "not_applicable", "tbd", "found_by_ir"},
		levelKeys(e.levels(e.admin)))

	// Bad input names the field; conflicts are 409.
	for body, field := range map[string]string{
		`{"key":"Bad Key","name":"X","color":"#000000"}`:                                              "key",
		`{"key":"","name":"X","color":"#000000"}`:                                                     "key",
		`{"key":"_x","name":"X","color":"#000000"}`:                                                   "key",
		`{"key":"` + strings.Repeat("k", 41) + `","name":"X","color":"#000000"}`:                      "key",
		`{"key":"` + db.NewID() + `","name":"X","color":"#000000"}`:                                   "key",
		`{"key":"ok","name":"","color":"#000000"}`:                                                    "name",
		`{"key":"ok","name":"` + strings.Repeat("n", 61) + `","color":"#000000"}`:                     "name",
		`{"key":"ok","name":"a\u0007b","color":"#000000"}`:                                            "name",
		`{"key":"ok","name":"X","color":"red"}`:                                                       "color",
		`{"key":"ok","name":"X","color":"#12345"}`:                                                    "color",
		`{"key":"ok","name":"X"}`:                                                                     "color",
		`{"key":"ok","name":"X","color":"#000000","rank":0}`:                                          "rank",
		`{"key":"ok","name":"X","color":"#000000","rank":10}`:                                         "rank",
		`{"key":"ok","name":"X","description":"` + strings.Repeat("d", 1001) + `","color":"#000000"}`: "description",
	} {
		rec := e.call("POST", "/api/v1/detection-levels", body, e.admin)
		require.Equal(t, 422, rec.Code, body)
		assert.Contains(t, decodeErr(t, rec).Error.Details, field, body)
	}
	for body, code := range map[string]string{
		`{"key":"alerted","name":"Other","color":"#000000"}`: "level_key_taken",
		`{"key":"other","name":"ALERTED","color":"#000000"}`: "level_name_taken",
	} {
		rec := e.call("POST", "/api/v1/detection-levels", body, e.admin)
		require.Equal(t, 409, rec.Code, body)
		assert.Equal(t, code, decodeErr(t, rec).Error.Code, body)
	}
	for _, body := range []string{`{"key":"x","name":"X","color":"#000000","extra":1}`, `{"key":"x","rank":"first"}`, `[]`, ``} {
		assert.Equal(t, 400, e.call("POST", "/api/v1/detection-levels", body, e.admin).Code, body)
	}
	assert.Len(t, e.levels(e.admin), 8, "nothing was created by bad input")

	// Only settings.manage writes.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/detection-levels", `{"key":"mine","name":"Mine","color":"#000000"}`},
		{"PATCH", "/api/v1/detection-levels/" + ir.ID, `{"name":"Mine"}`},
		{"DELETE", "/api/v1/detection-levels/" + ir.ID, ``},
		{"PUT", "/api/v1/detection-levels/order", `{"ids":[]}`},
	} {
		for _, tok := range []string{e.red, e.blue, e.viewer} {
			rec := e.call(c.method, c.path, c.body, tok)
			require.Equal(t, 403, rec.Code, c.method+" "+c.path)
			assert.Equal(t, "settings.manage", decodeErr(t, rec).Error.Details["permission"])
		}
	}

	// PATCH: system levels keep their key; everything else may change.
	blocked := ls[0]
	bp := "/api/v1/detection-levels/" + blocked.ID
	rec = e.call("PATCH", bp, `{"key":"prevented"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "system_level_key", decodeErr(t, rec).Error.Code)
	rec = e.call("PATCH", bp, `{"key":"blocked","name":"Prevented","color":"#00ff00","description":"Stopped by a control"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := decodeLevel(t, rec.Body.Bytes())
	assert.Equal(t, "blocked", got.Key)
	assert.Equal(t, "Prevented", got.Name)
	assert.Equal(t, "#00FF00", got.Color)
	assert.Equal(t, "Stopped by a control", got.Description)
	rec = e.call("PATCH", bp, `{"description":null}`, e.admin)
	require.Equal(t, 200, rec.Code)
	assert.Empty(t, decodeLevel(t, rec.Body.Bytes()).Description, "null clears")
	rec = e.call("PATCH", bp, `{}`, e.admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "Prevented", decodeLevel(t, rec.Body.Bytes()).Name, "absent fields stay")
	for body, field := range map[string]string{
		`{"name":null}`: "name", `{"key":null}`: "key", `{"color":null}`: "color", `{"rank":null}`: "rank",
		`{"counts_as_detected":null}`: "counts_as_detected", `{"color":"green"}`: "color", `{"rank":9}`: "rank",
		`{"name":"  "}`: "name",
	} {
		rec := e.call("PATCH", bp, body, e.admin)
		require.Equal(t, 422, rec.Code, body)
		assert.Contains(t, decodeErr(t, rec).Error.Details, field, body)
	}
	rec = e.call("PATCH", bp, `{"name":"logged"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "level_name_taken", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 400, e.call("PATCH", bp, `{"bogus":true}`, e.admin).Code)
	assert.Equal(t, 404, e.call("PATCH", "/api/v1/detection-levels/"+db.NewID(), `{"name":"Z"}`, e.admin).Code)
	assert.Equal(t, 404, e.call("PATCH", "/api/v1/detection-levels/zzz", `{"name":"Z"}`, e.admin).Code)

	// Custom levels may change key; rank moves them.
	hp := "/api/v1/detection-levels/" + hunted.ID
	rec = e.call("PATCH", hp, `{"key":"threat_hunted","rank":1}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, "threat_hunted", decodeLevel(t, rec.Body.Bytes()).Key)
	assert.Equal(t, []string{"threat_hunted", "blocked", "alerted", "logged", "none", "not_applicable", "tbd", "found_by_ir"},
		levelKeys(e.levels(e.admin)))
	rec = e.call("PATCH", hp, `{"key":"alerted"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "level_key_taken", decodeErr(t, rec).Error.Code)

	// In use: counted, and not deletable.
	tid := e.adhoc("whoami", `[]`)
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"outcomes":[{"control":"EDR","detection_level":"found_by_ir"}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, 1, levelByKey(t, e.levels(e.blue), "found_by_ir").InUse)
	rec = e.call("DELETE", "/api/v1/detection-levels/"+ir.ID, "", e.admin)
	require.Equal(t, 409, rec.Code)
	ce := decodeErr(t, rec).Error
	assert.Equal(t, "level_in_use", ce.Code)
	assert.EqualValues(t, 1, ce.Details["in_use"])
	rec = e.call("DELETE", bp, "", e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "system_level", decodeErr(t, rec).Error.Code)

	// A level nobody uses goes; the ranks close up.
	require.Equal(t, 204, e.call("DELETE", hp, "", e.admin).Code)
	assert.Equal(t, 404, e.call("DELETE", hp, "", e.admin).Code)
	assert.Equal(t, append(append([]string{}, seededLevels...), "found_by_ir"), levelKeys(e.levels(e.admin)))

	// Every write is audited.
	var actions []string
	require.NoError(t, e.db.Read.NewQuery("SELECT action FROM audit_events WHERE object_type = 'detection_level' ORDER BY at").Column(&actions))
	for _, a := range []string{"detection_level.create", "detection_level.update", "detection_level.delete"} {
		assert.Contains(t, actions, a)
	}
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'detection_level.create'").Row(&n))
	assert.Equal(t, 2, n, "failed writes are not audited")
}

func TestDetectionLevelsReorder(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	ls := e.levels(e.admin)
	idOf := map[string]string{}
	for _, l := range ls {
		idOf[l.Key] = l.ID
	}
	order := func(keys ...string) string {
		ids := []string{}
		for _, k := range keys {
			id, ok := idOf[k]
			if !ok {
				id = k
			}
			ids = append(ids, fmt.Sprintf("%q", id))
		}
		return `{"ids":[` + strings.Join(ids, ",") + `]}`
	}

	// A test whose EDR alerted and SIEM logged: alerted is best.
	tid := e.adhoc("whoami", `[]`)
	tp := e.path("/tests/" + tid)
	rec := e.call("PATCH", tp, `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	logged, alerted := e.clock.at(2*time.Minute), e.clock.at(5*time.Minute)
	rec = e.call("PATCH", tp, `{"outcomes":[
		{"control":"EDR","detection_level":"alerted","alerted_at":"`+alerted+`"},
		{"control":"SIEM","detection_level":"logged","logged_at":"`+logged+`"}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := jsonBody(t, rec)
	require.Equal(t, "alerted", got["outcome"].(map[string]any)["key"])
	version := got["version"]

	// Bad orders change nothing.
	for _, body := range []string{
		order("blocked", "alerted", "logged", "none", "not_applicable"),                    // missing one
		order("blocked", "alerted", "logged", "none", "not_applicable", "tbd", "tbd"),      // twice
		order("blocked", "alerted", "logged", "none", "not_applicable", "tbd", db.NewID()), // unknown
		order("blocked", "alerted", "logged", "none", "not_applicable", "not-an-id"),       // malformed
		`{"ids":[]}`, `{}`, `{"ids":null}`,
	} {
		rec := e.call("PUT", "/api/v1/detection-levels/order", body, e.admin)
		require.Equal(t, 422, rec.Code, body)
		assert.Contains(t, decodeErr(t, rec).Error.Details, "ids", body)
	}
	assert.Equal(t, 400, e.call("PUT", "/api/v1/detection-levels/order", `{"ids":"x"}`, e.admin).Code)
	assert.Equal(t, seededLevels, levelKeys(e.levels(e.admin)))

	// Logged above alerted: the derived outcome follows, the test's version
	// does not move (nobody edited it).
	rec = e.call("PUT", "/api/v1/detection-levels/order", order("blocked", "logged", "alerted", "none", "not_applicable", "tbd"), e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var res struct {
		Items []levelJSON `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	assert.Equal(t, []string{"blocked", "logged", "alerted", "none", "not_applicable", "tbd"}, levelKeys(res.Items))
	assert.Equal(t, levelKeys(res.Items), levelKeys(e.levels(e.viewer)))
	rec = e.call("GET", tp, "", e.viewer)
	require.Equal(t, 200, rec.Code)
	got = jsonBody(t, rec)
	assert.Equal(t, "logged", got["outcome"].(map[string]any)["key"], "rank order defines best")
	assert.Equal(t, version, got["version"])
	assert.Equal(t, logged, got["detected_at"])

	// Logged stops counting as detected: the detection time follows.
	rec = e.call("PATCH", "/api/v1/detection-levels/"+idOf["logged"], `{"counts_as_detected":false}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got = jsonBody(t, e.call("GET", tp, "", e.viewer))
	assert.Equal(t, alerted, got["detected_at"])

	// The same order again is a no-op (and not audited twice).
	rec = e.call("PUT", "/api/v1/detection-levels/order", order("blocked", "logged", "alerted", "none", "not_applicable", "tbd"), e.admin)
	require.Equal(t, 200, rec.Code)
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'detection_level.reorder'").Row(&n))
	assert.Equal(t, 1, n)

	// Back to the seeded order with a new level at the end.
	rec = e.call("POST", "/api/v1/detection-levels", `{"key":"found_by_ir","name":"Found by IR","color":"#123456"}`, e.admin)
	require.Equal(t, 201, rec.Code)
	idOf["found_by_ir"] = decodeLevel(t, rec.Body.Bytes()).ID
	rec = e.call("PUT", "/api/v1/detection-levels/order", order("found_by_ir", "blocked", "alerted", "logged", "none", "not_applicable", "tbd"), e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, append([]string{"found_by_ir"}, seededLevels...), levelKeys(e.levels(e.admin)))
	got = jsonBody(t, e.call("GET", tp, "", e.viewer))
	assert.Equal(t, "alerted", got["outcome"].(map[string]any)["key"])
}

// Concurrent writers queue: no rank collision surfaces as an error, and the
// ranks stay contiguous. A reorder built from a list that a concurrent create
// made stale is refused for exactly that reason (the new level is missing),
// never for anything else.
func TestDetectionLevelsConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	const n = 8
	type reorder struct {
		listCode, listed, code int
		body                   string
	}
	creates := make(chan int, n)
	reorders := make(chan reorder, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"key":"level_%d","name":"Level %d","rank":1,"color":"#101010"}`, i, i)
			creates <- e.call("POST", "/api/v1/detection-levels", body, e.admin).Code
		}()
		go func() {
			defer wg.Done()
			var r reorder
			var ls struct {
				Items []levelJSON `json:"items"`
			}
			rec := e.call("GET", "/api/v1/detection-levels", "", e.admin)
			r.listCode = rec.Code
			if json.Unmarshal(rec.Body.Bytes(), &ls) != nil {
				r.listCode = -1
			}
			r.listed = len(ls.Items)
			ids := []string{}
			for j := len(ls.Items) - 1; j >= 0; j-- {
				ids = append(ids, fmt.Sprintf("%q", ls.Items[j].ID))
			}
			rec = e.call("PUT", "/api/v1/detection-levels/order", `{"ids":[`+strings.Join(ids, ",")+`]}`, e.admin)
			r.code, r.body = rec.Code, rec.Body.String()
			reorders <- r
		}()
	}
	wg.Wait()
	close(creates)
	close(reorders)
	for c := range creates {
		assert.Equal(t, 201, c)
	}
	for r := range reorders {
		require.Equal(t, 200, r.listCode)
		require.GreaterOrEqual(t, r.listed, 6, "the seeded levels at least")
		if r.code == 422 {
			var env errBody
			require.NoError(t, json.Unmarshal([]byte(r.body), &env))
			assert.Regexp(t, `^must list every level; missing: level_\d`, env.Error.Details["ids"], "only a stale list is refused")
			continue
		}
		assert.Equal(t, 200, r.code, r.body)
	}
	all := e.levels(e.admin) // e.levels checks ranks are 1..n
	assert.Len(t, all, 6+n)
	// With a fresh list the reorder goes through.
	ids := []string{}
	for j := len(all) - 1; j >= 0; j-- {
		ids = append(ids, fmt.Sprintf("%q", all[j].ID))
	}
	rec := e.call("PUT", "/api/v1/detection-levels/order", `{"ids":[`+strings.Join(ids, ",")+`]}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
}
