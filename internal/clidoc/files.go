package clidoc

import (
	"os"
	"path/filepath"
	"strings"
)

// Files are the generated documentation of m by path under dir: man/NAME.1
// and NAME.md for every page. A man page keeps the date of its copy in dir
// while its text stays the same, and is dated today (YYYY-MM-DD) when it
// changes.
func Files(m *App, dir, today string) map[string][]byte {
	files := map[string][]byte{}
	for _, p := range m.Pages() {
		name := filepath.Join("man", p.Name+".1")
		old, _ := os.ReadFile(filepath.Join(dir, name))
		page := m.Roff(p, today)
		if date := thDate(old); date != "" {
			if same := m.Roff(p, date); same == string(old) {
				page = same
			}
		}
		files[name] = []byte(page)
		files[p.Name+".md"] = []byte(m.Markdown(p))
	}
	return files
}

// thDate is the date of a man page: the third argument of its .TH line.
func thDate(page []byte) string {
	for _, line := range strings.Split(string(page), "\n") {
		if !strings.HasPrefix(line, ".TH ") {
			continue
		}
		if f := strings.Split(line, `"`); len(f) >= 4 {
			return f[3]
		}
	}
	return ""
}
