package clidoc

import "strings"

// The long descriptions are plain text that reads as it is in a terminal
// (it is the DESCRIPTION of --help) and that Parse cuts into blocks, which
// the renderers turn into roff and Markdown. Blocks are separated by blank
// lines:
//
//	EXIT STATUS                 a line in capitals alone: a section heading
//	Some text ... more text.    unindented lines: a paragraph
//	- item text                 an item of a bulleted list; its further
//	  continued here            lines are indented by two spaces
//	term                        an unindented line followed by lines
//	    body of the term        indented by four spaces: a tagged paragraph
//	  $ rawnet ping ...         indented lines: an example, kept verbatim
//
// Inline, text in back quotes is code (bold in a man page, code in
// Markdown); the terminal shows it without the quotes.

// BlockKind is the kind of a block of text.
type BlockKind int

// Kinds of blocks.
const (
	Para BlockKind = iota
	Heading
	Code
	Item
	Tag
)

// Block is one block of a long description.
type Block struct {
	Kind  BlockKind
	Text  string   // heading, paragraph, item or tag body, lines joined by spaces
	Term  string   // tag
	Lines []string // code, verbatim without the common indent
}

// Parse cuts a long description into blocks.
func Parse(text string) []Block {
	var blocks []Block
	for _, chunk := range chunks(text) {
		blocks = append(blocks, parseChunk(chunk)...)
	}
	return blocks
}

// chunks splits text at blank lines.
func chunks(text string) [][]string {
	var out [][]string
	var cur []string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func parseChunk(lines []string) []Block {
	first := lines[0]
	switch {
	case indent(first) >= 2:
		return []Block{{Kind: Code, Lines: dedent(lines)}}
	case len(lines) == 1 && isHeading(first):
		return []Block{{Kind: Heading, Text: first}}
	case strings.HasPrefix(first, "- "):
		return items(lines)
	case len(lines) > 1 && indent(lines[1]) >= 4:
		return tags(lines)
	}
	return []Block{{Kind: Para, Text: join(lines)}}
}

// items splits a chunk into list items at lines that start with "- ".
func items(lines []string) []Block {
	var out []Block
	for _, l := range lines {
		if strings.HasPrefix(l, "- ") {
			out = append(out, Block{Kind: Item, Text: strings.TrimSpace(l[2:])})
			continue
		}
		last := &out[len(out)-1]
		last.Text += " " + strings.TrimSpace(l)
	}
	return out
}

// tags splits a chunk into tagged paragraphs: unindented terms, each
// followed by its indented body.
func tags(lines []string) []Block {
	var out []Block
	for _, l := range lines {
		if indent(l) == 0 {
			out = append(out, Block{Kind: Tag, Term: l})
			continue
		}
		last := &out[len(out)-1]
		last.Text = strings.TrimSpace(last.Text + " " + strings.TrimSpace(l))
	}
	return out
}

func join(lines []string) string {
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func dedent(lines []string) []string {
	n := indent(lines[0])
	for _, l := range lines {
		n = min(n, indent(l))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l[n:]
	}
	return out
}

// isHeading says whether a line is a heading: capitals, digits, spaces and
// a little punctuation, with at least two letters.
func isHeading(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			letters++
		case r >= '0' && r <= '9', r == ' ', r == '-', r == '/', r == ',', r == '(', r == ')':
		default:
			return false
		}
	}
	return letters >= 2
}

// Plain is the text as the terminal shows it: the markup as written, code
// without its back quotes.
func Plain(text string) string {
	if !strings.Contains(text, "`") {
		return text
	}
	return strings.ReplaceAll(text, "`", "")
}

// span is a piece of inline text: code or not.
type span struct {
	text string
	code bool
}

// spans cuts inline text at back quotes.
func spans(s string) []span {
	var out []span
	code := false
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			if s != "" {
				out = append(out, span{s, code})
			}
			return out
		}
		if i > 0 {
			out = append(out, span{s[:i], code})
		}
		s = s[i+1:]
		code = !code
	}
}
