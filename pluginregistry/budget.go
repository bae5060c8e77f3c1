package pluginregistry

import (
	"errors"
	"fmt"
	"time"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	yamlv3 "go.yaml.in/yaml/v3"
)

// Budgets bound the work a plugin version can cause in the controllers: a
// ConfigMap is parsed, rendered and evaluated under these limits, and an
// over-budget version is refused like any invalid version, with a message
// naming the budget (docs/plugins.md, "Budgets"; docs/security.md).
const (
	// MaxDocumentBytes is the byte budget of one part's YAML document.
	MaxDocumentBytes = 512 << 10
	// MaxDocumentNodes is the node budget of one part's YAML document,
	// counted with every alias and merge key ("<<") expanded.
	MaxDocumentNodes = 50000
	// MaxTemplateSteps is the step budget of one template rendering: every
	// iteration of a range and every call of a defined template is a step.
	MaxTemplateSteps = 100000
	// MaxTemplateTime is the time budget of one template rendering, a
	// backstop for steps that each do much work.
	MaxTemplateTime = 5 * time.Second
	// MaxConstraintBytes is the byte budget of a parameter's CUE constraint.
	MaxConstraintBytes = 1024
	// MaxConstraintNodes is the node budget of a parameter's CUE constraint.
	MaxConstraintNodes = 64
)

// checkDocumentBudget refuses a document over the byte or node budget
// before it is handed to CUE (which expands aliases and merge keys).
func checkDocumentBudget(data []byte) error {
	if len(data) > MaxDocumentBytes {
		return fmt.Errorf("the document is %d bytes, over the byte budget of %d bytes: split the plugin or shorten its templates", len(data), MaxDocumentBytes)
	}
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		return nil // the YAML parser below reports it with a line
	}
	n, err := countNodes(&root, map[*yamlv3.Node]int{}, map[*yamlv3.Node]bool{})
	if err != nil {
		return err
	}
	if n > MaxDocumentNodes {
		return fmt.Errorf("the document expands to more than %d YAML nodes (aliases and merge keys counted expanded), over the node budget: write the values out or use fewer aliases", MaxDocumentNodes)
	}
	return nil
}

var errRecursiveAlias = errors.New("an alias refers to a node that contains it: recursive YAML aliases are not allowed")

// countNodes returns the number of nodes of n with aliases expanded,
// saturating just above MaxDocumentNodes.
func countNodes(n *yamlv3.Node, memo map[*yamlv3.Node]int, busy map[*yamlv3.Node]bool) (int, error) {
	if n == nil {
		return 0, nil
	}
	if c, ok := memo[n]; ok {
		return c, nil
	}
	if busy[n] {
		return 0, errRecursiveAlias
	}
	busy[n] = true
	defer delete(busy, n)
	total := 1
	if n.Kind == yamlv3.AliasNode {
		c, err := countNodes(n.Alias, memo, busy)
		if err != nil {
			return 0, err
		}
		total += c
	}
	for _, ch := range n.Content {
		c, err := countNodes(ch, memo, busy)
		if err != nil {
			return 0, err
		}
		total += c
		if total > MaxDocumentNodes {
			total = MaxDocumentNodes + 1
			break
		}
	}
	memo[n] = total
	return total, nil
}

// allowedConstraintIdents are the identifiers a constraint may use.
var allowedConstraintIdents = map[string]bool{
	"int": true, "number": true, "float": true, "string": true, "bool": true,
	"true": true, "false": true, "null": true, "_": true,
}

// checkConstraint refuses a CUE constraint that is not a plain combination
// of bounds, regular expressions and literals: comprehensions, structs,
// lists, references and calls can make evaluation take minutes.
func checkConstraint(src string) error {
	if len(src) > MaxConstraintBytes {
		return fmt.Errorf("the constraint is %d bytes, over the constraint byte budget of %d", len(src), MaxConstraintBytes)
	}
	expr, err := parser.ParseExpr("constraint", src)
	if err != nil {
		return fmt.Errorf("not a valid CUE expression: %s", oneLine(err))
	}
	nodes := 0
	var bad error
	ast.Walk(expr, func(n ast.Node) bool {
		if bad != nil {
			return false
		}
		nodes++
		if nodes > MaxConstraintNodes {
			bad = fmt.Errorf("the constraint has more than %d terms, over the constraint node budget", MaxConstraintNodes)
			return false
		}
		switch x := n.(type) {
		case *ast.BasicLit, *ast.ParenExpr:
		case *ast.Ident:
			if !allowedConstraintIdents[x.Name] {
				bad = fmt.Errorf("the constraint refers to %q: only literals, the types int, number, string and bool, and the operators < <= > >= != =~ !~ & | - are allowed", x.Name)
			}
		case *ast.UnaryExpr:
			switch x.Op {
			case token.LSS, token.LEQ, token.GTR, token.GEQ, token.NEQ, token.MAT, token.NMAT, token.SUB, token.ADD:
			default:
				bad = fmt.Errorf("the constraint uses the operator %s: only < <= > >= != =~ !~ & | - are allowed", x.Op)
			}
		case *ast.BinaryExpr:
			switch x.Op {
			case token.AND, token.OR:
			default:
				bad = fmt.Errorf("the constraint uses the operator %s: only < <= > >= != =~ !~ & | - are allowed", x.Op)
			}
		default:
			bad = fmt.Errorf("the constraint uses %s: only literals, the types int, number, string and bool, and the operators < <= > >= != =~ !~ & | - are allowed", describeCUE(n))
		}
		return bad == nil
	}, nil)
	return bad
}

func describeCUE(n ast.Node) string {
	switch n.(type) {
	case *ast.Comprehension, *ast.ForClause, *ast.IfClause, *ast.LetClause:
		return "a comprehension"
	case *ast.StructLit, *ast.Field:
		return "a struct"
	case *ast.ListLit:
		return "a list"
	case *ast.CallExpr:
		return "a function call"
	case *ast.SelectorExpr, *ast.IndexExpr, *ast.SliceExpr:
		return "a reference"
	case *ast.Interpolation:
		return "an interpolation"
	default:
		return fmt.Sprintf("%T", n)
	}
}
