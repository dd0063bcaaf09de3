package main

import (
	"fmt"
	"go/ast"
	"go/types"
	"io"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Step is one function on the trail.
type Step struct {
	File string // relative to the module root's provider/ parent (e.g. provider/run.go)
	Func string
}

// Stop is a run of consecutive steps in one file.
type Stop struct {
	File  string
	Funcs []string
}

// Path is the reader's trail from the root.
type Path struct {
	Steps []Step
}

// Within is the trail without the functions of files outside folder dir (relative to the module root).
func (p *Path) Within(dir string) *Path {
	out := &Path{}
	for _, s := range p.Steps {
		if path.Dir(s.File) == dir {
			out.Steps = append(out.Steps, s)
		}
	}
	return out
}

// Stops groups the trail into stops.
func (p *Path) Stops() []Stop {
	var out []Stop
	for _, s := range p.Steps {
		if n := len(out); n > 0 && out[n-1].File == s.File {
			out[n-1].Funcs = append(out[n-1].Funcs, s.Func)
			continue
		}
		out = append(out, Stop{File: s.File, Funcs: []string{s.Func}})
	}
	return out
}

// Counts are the path's figures: functions entered, stops, distinct files, returns to a file already left, and
// the stops per file.
func (p *Path) Counts() (funcs, stops, files, returns int, perFile map[string]int) {
	perFile = map[string]int{}
	for _, s := range p.Stops() {
		if perFile[s.File] > 0 {
			returns++
		}
		perFile[s.File]++
		stops++
	}
	return len(p.Steps), stops, len(perFile), returns, perFile
}

// Print writes the figures, the stops per file (most first) and, if verbose, the trail.
func (p *Path) Print(w io.Writer, verbose bool) {
	funcs, stops, files, returns, perFile := p.Counts()
	fmt.Fprintf(w, "%d functions, %d stops in %d files, back to an already-left file %d times\n", funcs, stops, files, returns)
	names := make([]string, 0, len(perFile))
	for f := range perFile {
		names = append(names, f)
	}
	sort.Slice(names, func(i, j int) bool {
		if perFile[names[i]] != perFile[names[j]] {
			return perFile[names[i]] > perFile[names[j]]
		}
		return names[i] < names[j]
	})
	for _, f := range names {
		fmt.Fprintf(w, "  %3d× %s\n", perFile[f], f)
	}
	if !verbose {
		return
	}
	fmt.Fprintln(w, "trail:")
	for i, s := range p.Stops() {
		fmt.Fprintf(w, "%4d %s: %s\n", i+1, s.File, strings.Join(s.Funcs, ", "))
	}
}

// decl is a function declared in the loaded packages.
type decl struct {
	fd   *ast.FuncDecl
	pkg  *packages.Package
	file string
}

type walker struct {
	decls   map[*types.Func]decl
	named   []*types.Named // the loaded packages' named non-interface types, for interface calls
	seen    map[*types.Func]bool
	path    Path
	rootDir string
}

// Walk follows the calls from root (in package provider) through the loaded packages.
func Walk(pkgs []*packages.Package, root string) (*Path, error) {
	w := &walker{decls: map[*types.Func]decl{}, seen: map[*types.Func]bool{}}
	var start *types.Func
	for _, pkg := range pkgs {
		for _, f := range pkg.Syntax {
			name := pkg.Fset.Position(f.Pos()).Filename
			if w.rootDir == "" && pkg.Name == "provider" {
				w.rootDir = filepath.Dir(filepath.Dir(name))
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok {
					continue
				}
				fn, ok := pkg.TypesInfo.Defs[fd.Name].(*types.Func)
				if !ok {
					continue
				}
				w.decls[fn] = decl{fd: fd, pkg: pkg, file: name}
				if pkg.Name == "provider" && funcName(fn) == root {
					start = fn
				}
			}
		}
		scope := pkg.Types.Scope()
		for _, n := range scope.Names() {
			if tn, ok := scope.Lookup(n).(*types.TypeName); ok {
				if nt, ok := tn.Type().(*types.Named); ok && !types.IsInterface(nt) {
					w.named = append(w.named, nt)
				}
			}
		}
	}
	if start == nil {
		return nil, fmt.Errorf("no function %s in package provider", root)
	}
	slices.SortFunc(w.named, func(a, b *types.Named) int {
		return strings.Compare(a.Obj().Pkg().Path()+"."+a.Obj().Name(), b.Obj().Pkg().Path()+"."+b.Obj().Name())
	})
	w.visit(start)
	return &w.path, nil
}

func (w *walker) visit(fn *types.Func) {
	if w.seen[fn] {
		return
	}
	d, ok := w.decls[fn]
	if !ok {
		return
	}
	w.seen[fn] = true
	file := d.file
	if rel, err := filepath.Rel(w.rootDir, d.file); err == nil {
		file = filepath.ToSlash(rel)
	}
	w.path.Steps = append(w.path.Steps, Step{File: file, Func: funcName(fn)})
	if d.fd.Body == nil {
		return
	}
	ast.Inspect(d.fd.Body, func(n ast.Node) bool { return w.inspect(d.pkg, n) })
}

// inspect enters, in the order they are written, the functions called at n and below: a call's function
// expression first (x.f().g() enters f before g), then what it calls, then its arguments (function literals
// included).
func (w *walker) inspect(pkg *packages.Package, n ast.Node) bool {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return true
	}
	ast.Inspect(call.Fun, func(n ast.Node) bool { return w.inspect(pkg, n) })
	for _, callee := range w.callees(pkg, call) {
		w.visit(callee)
	}
	for _, a := range call.Args {
		ast.Inspect(a, func(n ast.Node) bool { return w.inspect(pkg, n) })
	}
	return false
}

// callees are the functions a call may enter: the function or method it names, or, through an interface, each
// loaded type's method that implements it.
func (w *walker) callees(pkg *packages.Package, call *ast.CallExpr) []*types.Func {
	var id *ast.Ident
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	case *ast.IndexExpr: // generic instantiation
		switch g := f.X.(type) {
		case *ast.Ident:
			id = g
		case *ast.SelectorExpr:
			id = g.Sel
		}
	}
	if id == nil {
		return nil
	}
	fn, ok := pkg.TypesInfo.Uses[id].(*types.Func)
	if !ok {
		return nil
	}
	fn = fn.Origin()
	sig := fn.Signature()
	if sig.Recv() == nil || !types.IsInterface(sig.Recv().Type()) {
		return []*types.Func{fn}
	}
	iface, ok := sig.Recv().Type().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var out []*types.Func
	for _, nt := range w.named {
		var t types.Type = nt
		if !types.Implements(t, iface) {
			t = types.NewPointer(nt)
			if !types.Implements(t, iface) {
				continue
			}
		}
		obj, _, _ := types.LookupFieldOrMethod(t, true, nt.Obj().Pkg(), fn.Name())
		if m, ok := obj.(*types.Func); ok {
			out = append(out, m)
		}
	}
	return out
}

// funcName is (*T).M, T.M or F.
func funcName(fn *types.Func) string {
	recv := fn.Signature().Recv()
	if recv == nil {
		return fn.Name()
	}
	t := recv.Type()
	star := ""
	if p, ok := t.(*types.Pointer); ok {
		t, star = p.Elem(), "*"
	}
	name := types.TypeString(t, func(*types.Package) string { return "" })
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if star != "" {
		return "(*" + name + ")." + fn.Name()
	}
	return name + "." + fn.Name()
}
