package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// Access lines would drown test output; PURPLEBOOK_TEST_LOG=1 shows them.
	if os.Getenv("PURPLEBOOK_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	code := m.Run()
	if testing.Verbose() {
		fmt.Printf("contract: %d API answers checked against the OpenAPI document\n", contractChecks.Load())
		if contractChecks.Load() > 1000 { // the whole suite ran
			for _, r := range contractUnseen() {
				fmt.Println("contract: no success answer checked for", r)
			}
		}
	}
	os.Exit(code)
}
