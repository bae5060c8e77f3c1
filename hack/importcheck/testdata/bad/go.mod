module github.com/plinth-io/plinth

go 1.26
