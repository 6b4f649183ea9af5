package templates

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// FuzzAtomicYAML feeds arbitrary documents to the Atomic reader: it must
// never panic, and whatever it accepts must be storable (JSON-encodable,
// valid UTF-8 after normalisation, guids that fit the key rules).
func FuzzAtomicYAML(f *testing.F) {
	for _, id := range []string{"T1003.001", "T1218.011", "T1566.001"} {
		data, err := os.ReadFile(atomicsFile(f, id))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(quirkyYAML))
	f.Add([]byte("a: &a [*a]\natomic_tests: *a\n"))
	f.Add([]byte("atomic_tests:\n- <<: [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		af, err := ParseAtomic("fuzz.yaml", data)
		if err != nil {
			return
		}
		if af.Found != len(af.Tests)+len(af.Skipped) {
			t.Fatalf("found %d, imported %d, skipped %d", af.Found, len(af.Tests), len(af.Skipped))
		}
		for _, tc := range af.Tests {
			if !reGUID.MatchString(tc.GUID) || tc.Input.SourceRef != tc.GUID {
				t.Fatalf("bad guid %q", tc.GUID)
			}
			in := tc.Input
			if _, err := json.Marshal(in); err != nil {
				t.Fatalf("not storable: %v", err)
			}
			_ = in.normalize() // may reject (too long…), must not panic
			for _, a := range in.InputArguments {
				switch a.Default.(type) {
				case nil, string, int64, float64, bool:
				default:
					t.Fatalf("default of type %T", a.Default)
				}
			}
		}
	})
}

// FuzzAtomicSource feeds arbitrary bytes to the source sniffer (zip, tar,
// gzip, YAML): errors are fine, panics are not.
func FuzzAtomicSource(f *testing.F) {
	data, err := os.ReadFile(atomicsFile(f, "T1566.001"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(makeZip(f, []archiveEntry{{name: "atomics/T1/T1.yaml", data: data}}))
	f.Add(makeTarGz(f, []archiveEntry{{name: "atomics/T1/T1.yaml", data: data}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewAtomicCollector(t.TempDir())
		_ = c.Add("fuzz", bytes.NewReader(b))
	})
}
