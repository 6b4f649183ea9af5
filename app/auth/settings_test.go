package auth

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSettingValidation(t *testing.T) {
	ok := map[string][]string{
		SettingSecurityControls: {`["EDR"]`, `[" EDR ","SIEM"]`, `["x"]`},
		SettingRequireMFA:       {`true`, `false`},
		SettingEvidenceMaxBytes: {`1048576`, `8589934592`, `536870912`},
	}
	bad := map[string][]string{
		SettingSecurityControls: {`[]`, `null`, `"EDR"`, `[1]`, `[""]`, `["a","A"]`, `["a"] x`},
		SettingRequireMFA:       {`null`, `"true"`, `0`},
		SettingEvidenceMaxBytes: {`1048575`, `8589934593`, `1e6`, `1.0`, `"1"`, `null`},
	}
	for key, vals := range ok {
		for _, v := range vals {
			_, problem := settingSpecs[key].parse(json.RawMessage(v))
			assert.Empty(t, problem, "%s = %s", key, v)
		}
	}
	for key, vals := range bad {
		for _, v := range vals {
			_, problem := settingSpecs[key].parse(json.RawMessage(v))
			assert.NotEmpty(t, problem, "%s = %s", key, v)
		}
	}
	v, _ := parseSecurityControls(json.RawMessage(`[" EDR ","SIEM"]`))
	assert.Equal(t, []string{"EDR", "SIEM"}, v)
	for _, k := range SettingKeys() {
		_, problem := settingSpecs[k].parse(json.RawMessage(mustJSON(settingSpecs[k].def)))
		assert.Empty(t, problem, "the default of %s is valid", k)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
