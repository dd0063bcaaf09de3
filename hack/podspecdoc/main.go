// Command podspecdoc writes docs/podspec.md, the table of what Berth does with every field of a PodSpec, from the
// inventory in provider/podspec (podspec.Inventory). Its test fails when the checked-in file is out of date.
//
//	go run ./hack/podspecdoc -o docs/podspec.md    (make podspec-doc)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/berth-dev/berth/provider/podspec"
)

func main() {
	out := flag.String("o", "", "file to write (default: standard output)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "podspecdoc: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	doc := Render(podspec.Inventory())
	if *out == "" {
		_, _ = os.Stdout.Write(doc)
		return
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "podspecdoc:", err)
		os.Exit(1)
	}
}
