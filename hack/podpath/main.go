// Command podpath measures how a reader moves through provider/ when following one pod from Provider.CreatePod:
// it walks the calls from CreatePod depth first, in source order, each function once, into every function and
// method declared in provider/... (function literals are read where they are written; a goroutine's function is
// followed where it is started; a call through an interface goes to each of its implementations in provider/...,
// test files excluded). The functions it enters, in that order, are the reader's trail. A stop is a run of
// consecutive functions of one file; a return is a stop in a file the reader had already left.
//
//	go run ./hack/podpath                  # this checkout
//	go run ./hack/podpath -C /path/to/other/checkout -v
//	go run ./hack/podpath -within provider   # package provider's own files only
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/tools/go/packages"
)

func main() {
	dir := flag.String("C", ".", "module root of the checkout to measure")
	root := flag.String("root", "(*Provider).CreatePod", "function to start from, as (*Type).Method or Func, in package provider")
	verbose := flag.Bool("v", false, "print the trail: each stop with the functions entered in it")
	within := flag.String("within", "", "count only the functions of the files in this folder (e.g. provider: package provider's own files, not its rooms)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "podpath: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	cfg := &packages.Config{Dir: *dir, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
		packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports}
	pkgs, err := packages.Load(cfg, "./provider/...")
	if err != nil {
		fmt.Fprintln(os.Stderr, "podpath:", err)
		os.Exit(1)
	}
	if packages.PrintErrors(pkgs) > 0 {
		os.Exit(1)
	}
	p, err := Walk(pkgs, *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "podpath:", err)
		os.Exit(1)
	}
	if *within != "" {
		p = p.Within(*within)
	}
	p.Print(os.Stdout, *verbose)
}
