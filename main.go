// Command purplebook is a purple-team engagement tracker: one binary with an
// embedded database and web app. See README.md.
package main

import (
	"os"

	"github.com/purplebook/purplebook/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
