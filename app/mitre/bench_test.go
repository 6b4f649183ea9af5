package mitre

import (
	"os"
	"testing"
)

// BenchmarkParseFull parses the whole 45 MB enterprise bundle (gzip).
func BenchmarkParseFull(b *testing.B) {
	path := testdata(b, "enterprise-attack.json.gz")
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Parse(f, nil); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
