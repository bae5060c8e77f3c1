package pluginregistry

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cueyaml "cuelang.org/go/encoding/yaml"
	"sigs.k8s.io/yaml"
)

//go:embed schema/*.cue
var schemaFS embed.FS

// schemaDefs names the CUE definition that validates each part.
var schemaDefs = map[Part]string{
	PartManifest:     "#Manifest",
	PartComponents:   "#Components",
	PartPodTemplates: "#PodTemplates",
	PartParams:       "#Params",
	PartOperations:   "#Operations",
}

// schemaSource is the concatenation of the embedded schema files.
func schemaSource() string {
	entries, err := schemaFS.ReadDir("schema")
	if err != nil {
		panic(err) // embedded at build time; cannot fail at run time
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := schemaFS.ReadFile("schema/" + n)
		if err != nil {
			panic(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

// SchemaSource returns the CUE schemas every part is validated against.
func SchemaSource() string { return schemaSource() }

// document is one YAML document of a plugin version, with the origin used in
// error messages and an index from YAML path to line.
type document struct {
	configMap string
	key       string
	data      []byte
	lines     map[string]int
}

func (d *document) line(path string) int {
	if d == nil || d.lines == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath drops the last segment of a path: a.b[0] -> a.b, a.b -> a.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func joinKey(prefix, key string) string {
	if !identRE.MatchString(key) {
		key = strconv.Quote(key)
		return prefix + "[" + key + "]"
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func joinIndex(prefix string, i int) string { return fmt.Sprintf("%s[%d]", prefix, i) }

// cuePath turns a CUE error path into the YAML path notation.
func cuePath(sel []string) string {
	p := ""
	for _, s := range sel {
		if strings.HasPrefix(s, "#") {
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			p = joinIndex(p, n)
			continue
		}
		if uq, err := strconv.Unquote(s); err == nil {
			s = uq
		}
		p = joinKey(p, s)
	}
	return p
}

// indexLines records the line of every path in a CUE AST built from YAML.
func indexLines(lines map[string]int, prefix string, n ast.Node) {
	switch x := n.(type) {
	case *ast.File:
		indexDecls(lines, prefix, x.Decls)
	case *ast.StructLit:
		indexDecls(lines, prefix, x.Elts)
	case *ast.ListLit:
		for i, e := range x.Elts {
			p := joinIndex(prefix, i)
			if pos := e.Pos(); pos.IsValid() {
				lines[p] = pos.Line()
			}
			indexLines(lines, p, e)
		}
	}
}

func indexDecls(lines map[string]int, prefix string, decls []ast.Decl) {
	for _, d := range decls {
		f, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		name, _, err := ast.LabelName(f.Label)
		if err != nil {
			continue
		}
		p := joinKey(prefix, name)
		if pos := f.Pos(); pos.IsValid() {
			lines[p] = pos.Line()
		}
		indexLines(lines, p, f.Value)
	}
}

// schemaChecker validates documents against the embedded schemas. It holds
// a CUE context, which is not safe for concurrent use: one per Build.
type schemaChecker struct {
	ctx    *cue.Context
	schema cue.Value
}

func newSchemaChecker() (*schemaChecker, error) {
	ctx := cuecontext.New()
	v := ctx.CompileString(schemaSource(), cue.Filename("pluginregistry/schema"))
	if v.Err() != nil {
		return nil, fmt.Errorf("pluginregistry: embedded schema does not compile: %w", v.Err())
	}
	return &schemaChecker{ctx: ctx, schema: v}, nil
}

// check parses doc as YAML, validates it against the part's schema and, when
// valid, decodes it into out. Problems are added to p; it reports success.
func (s *schemaChecker) check(doc *document, part Part, out any, p *problems) bool {
	if len(strings.TrimSpace(string(doc.data))) == 0 {
		p.add(doc, "", "the document is empty: expected a YAML mapping with the %s fields (see docs/plugins.md)", part)
		return false
	}
	if err := checkDocumentBudget(doc.data); err != nil {
		p.add(doc, "", "%v", err)
		return false
	}
	file, err := cueyaml.Extract(doc.configMap+"/"+doc.key, doc.data)
	if err != nil {
		p.add(doc, "", "not valid YAML: %s", trimCuePrefix(err.Error()))
		return false
	}
	doc.lines = map[string]int{}
	indexLines(doc.lines, "", file)
	for _, d := range file.Decls {
		if e, ok := d.(*ast.EmbedDecl); ok {
			// A YAML document that is not a mapping (a list, a scalar).
			p.add(doc, "", "expected a YAML mapping at the top of the document, found %s", describeNode(e.Expr))
			return false
		}
	}
	data := s.ctx.BuildFile(file)
	if data.Err() != nil {
		p.add(doc, "", "cannot read the document: %s", oneLine(data.Err()))
		return false
	}
	// Unify (not a built expression) keeps the definitions closed, so
	// unknown fields are reported.
	v := s.schema.LookupPath(cue.ParsePath(schemaDefs[part])).Unify(data)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		for _, fe := range cueProblems(doc, err) {
			p.addError(fe)
		}
		return false
	}
	if err := yaml.Unmarshal(doc.data, out); err != nil {
		p.add(doc, "", "cannot decode: %v", err)
		return false
	}
	return true
}

func describeNode(e ast.Expr) string {
	switch e.(type) {
	case *ast.ListLit:
		return "a list"
	case *ast.BasicLit:
		return "a scalar"
	default:
		return "something else"
	}
}

// patternHints explain the schema's regular expressions in words.
var patternHints = []struct{ contains, hint string }{
	{`=~"^v(0|`, "expected a semantic version with a leading v, for example v1.0.0"},
	{`=~"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`, "expected a lowercase name of a-z, 0-9 and '-', for example redis or primary"},
	{`=~"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"`, "expected a ConfigMap name of a-z, 0-9, '-' and '.'"},
	{`=~"^([0-9]+(ms|s|m|h))+$"`, "expected a duration such as 500ms, 30s, 5m or 1h"},
	{`(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"`, "expected a quantity such as 512Mi or 10Gi"},
	{`=~"^[A-Za-z][A-Za-z0-9-]*$"`, "expected a name such as HorizontalScale"},
	{`=~"^/"`, "expected an absolute path"},
}

var conflictRE = regexp.MustCompile(`^conflicting values (.+) and (.+)$`)

// cueProblems turns CUE validation errors into FieldErrors, folding the
// alternatives of a failed disjunction into one "expected one of" message.
func cueProblems(doc *document, err error) []FieldError {
	type group struct {
		path     string
		line     int
		msgs     []string
		disjunct bool
	}
	var order []string
	groups := map[string]*group{}
	for _, e := range cueerrors.Errors(err) {
		path := cuePath(e.Path())
		g := groups[path]
		if g == nil {
			g = &group{path: path}
			groups[path] = g
			order = append(order, path)
		}
		for _, pos := range cueerrors.Positions(e) {
			if pos.Filename() == doc.configMap+"/"+doc.key && g.line == 0 {
				g.line = pos.Line()
			}
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "errors in empty disjunction") {
			g.disjunct = true
			continue
		}
		g.msgs = append(g.msgs, msg)
	}
	var out []FieldError
	for _, path := range order {
		g := groups[path]
		line := g.line
		if line == 0 {
			line = doc.line(path)
		}
		msg := strings.Join(g.msgs, "; ")
		if g.disjunct {
			var allowed []string
			got := ""
			for _, m := range g.msgs {
				if sm := conflictRE.FindStringSubmatch(m); sm != nil {
					a, b := sm[1], sm[2]
					if _, ok := doc.lineOfValue(path); ok && b != "" {
						got = b
					}
					allowed = append(allowed, a)
				}
			}
			if len(allowed) == len(g.msgs) && got != "" {
				msg = fmt.Sprintf("expected one of %s; got %s", strings.Join(allowed, ", "), got)
			}
		}
		for _, h := range patternHints {
			if strings.Contains(msg, h.contains) {
				msg += ": " + h.hint
				break
			}
		}
		if strings.HasSuffix(msg, "field not allowed") {
			msg = "field not allowed here: it is not part of the schema (check the spelling; see docs/plugins.md)"
		}
		if strings.Contains(msg, "incomplete value") || strings.Contains(msg, "non-concrete value") {
			msg = "required field is missing: " + msg
		}
		out = append(out, FieldError{ConfigMap: doc.configMap, Key: doc.key, Path: path, Line: line, Message: msg})
	}
	return out
}

func (d *document) lineOfValue(path string) (int, bool) {
	l, ok := d.lines[path]
	return l, ok
}

func trimCuePrefix(s string) string {
	if i := strings.Index(s, ".yaml:"); i >= 0 {
		return "line " + s[i+len(".yaml:"):]
	}
	return s
}
