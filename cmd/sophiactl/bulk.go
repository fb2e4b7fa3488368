package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
)

// Bulk import and export of users (README.md, "Bulk import and export").
//
// CSV: a header row naming columns of csvColumns, in any order and any subset but id;
// one user per row. A cell left empty leaves the field as it is (a new user: its
// default). Lists (numbers, keys, scheduled rules…) are JSON in their cell. A version
// cell, when given, must be the stored version (as If-Match).
//
// JSON: an array of sheets (what export writes), each a whole or partial sheet.
//
// Each row is one atomic API write: the user is created (PUT) when it does not exist,
// else changed with a merge patch (PATCH) of the row's fields. A refused row is reported
// with its line and fields, and the others go on.

type colKind int

const (
	colString colKind = iota
	colBool
	colInt
	colJSON
)

type column struct {
	name string // the JSON path, dotted
	kind colKind
}

var csvColumns = []column{
	{"id", colString}, {"version", colInt}, {"site", colString}, {"name", colString}, {"timezone", colString},
	{"comment", colString}, {"main_number", colString}, {"associated_numbers", colJSON}, {"short_numbers", colJSON},
	{"device.id", colString}, {"device.endpoint", colString}, {"device.mac", colString}, {"device.model", colString},
	{"function_keys", colJSON}, {"audio.busy", colString}, {"audio.ringback", colString}, {"audio.hold", colString},
	{"presented_number.mode", colString}, {"presented_number.number", colString}, {"dnd", colBool},
	{"advanced.max_simultaneous_calls", colInt}, {"advanced.call_waiting", colBool},
	{"advanced.incoming_display", colString}, {"advanced.redirect_info", colBool},
	{"forwards.unconditional.enabled", colBool}, {"forwards.unconditional.target", colString},
	{"forwards.scheduled", colJSON},
	{"forwards.no_answer.enabled", colBool}, {"forwards.no_answer.target", colString}, {"forwards.no_answer.timeout_s", colInt},
	{"forwards.not_connected.enabled", colBool}, {"forwards.not_connected.target", colString},
	{"forwards.busy.enabled", colBool}, {"forwards.busy.target", colString},
	{"forwards.simultaneous_ring.enabled", colBool}, {"forwards.simultaneous_ring.targets", colJSON},
	{"forwards.simultaneous_ring.confirm", colBool},
	{"voicemail.enabled", colBool}, {"voicemail.greeting", colString}, {"voicemail.announce_number", colBool},
	{"voicemail.retention_days", colInt}, {"voicemail.max_messages", colInt},
	{"voicemail.email.enabled", colBool}, {"voicemail.email.address", colString},
	{"voicemail.email.attach_audio", colBool}, {"voicemail.email.delete_after_email", colBool},
	{"voicemail.notify.call_without_message", colBool}, {"voicemail.notify.mailbox_full", colBool},
	{"voicemail.remote_access.enabled", colBool}, {"voicemail.remote_access.allowed_numbers", colJSON},
}

func columnByName(name string) (column, bool) {
	for _, c := range csvColumns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// rowResult is what became of one row.
type rowResult struct {
	Line   int              `json:"line"`
	ID     string           `json:"id,omitempty"`
	Action string           `json:"action"` // created, updated, failed
	Error  string           `json:"error,omitempty"`
	Fields []api.FieldError `json:"fields,omitempty"`
}

// bulkRow is one parsed row: the user's fields as a JSON object, or why it cannot be.
type bulkRow struct {
	line    int
	id      string
	obj     map[string]any
	version int64
	problem *rowResult
}

func usersImport(fs *flag.FlagSet) func(*env, []string) error {
	format := fs.String("format", "", "csv or json (default: from the file name's extension)")
	force := fs.Bool("force", false, "ignore the file's versions: overwrite whatever is stored")
	return func(e *env, args []string) error {
		if err := nargs(args, 1, "FILE"); err != nil {
			return err
		}
		f := *format
		if f == "" {
			f = strings.TrimPrefix(strings.ToLower(filepath.Ext(args[0])), ".")
		}
		data, err := readInput(e, args[0], false)
		if err != nil {
			return err
		}
		var rows []bulkRow
		switch f {
		case "csv":
			rows, err = parseCSV(data)
		case "json":
			rows, err = parseJSONRows(data)
		default:
			return usagef("--format: want csv or json (the file name says %q)", f)
		}
		if err != nil {
			return err
		}
		var bar *progressbar.ProgressBar
		if e.isTerm() {
			bar = progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(e.errw),
				progressbar.OptionSetDescription("importing users"), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		}
		results := make([]rowResult, 0, len(rows))
		failed := 0
		for _, r := range rows {
			res := applyRow(e, r, *force)
			if res.Action == "failed" {
				failed++
			}
			results = append(results, res)
			if bar != nil {
				bar.Add(1)
			}
		}
		if bar != nil {
			bar.Finish()
		}
		report(e, results, failed)
		if failed > 0 {
			return errRowsFailed
		}
		return nil
	}
}

func report(e *env, results []rowResult, failed int) {
	if e.json {
		b, _ := json.Marshal(map[string]any{"rows": results, "failed": failed, "total": len(results)})
		printJSON(e.out, b)
		return
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	for _, r := range results {
		fmt.Fprintf(tw, "line %d\t%s\t%s", r.Line, or(r.ID, "-"), r.Action)
		if r.Action == "failed" && len(r.Fields) == 0 {
			fmt.Fprintf(tw, "\t%s", r.Error)
		}
		if r.Action == "failed" {
			for _, f := range r.Fields {
				fmt.Fprintf(tw, "\n\t\t\t  %s: %s", or(f.Path, "(row)"), f.Reason)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(e.out, "%d rows: %d done, %d failed\n", len(results), len(results)-failed, failed)
}

// applyRow writes one row: PUT when the user is new, PATCH with its fields otherwise.
func applyRow(e *env, r bulkRow, force bool) rowResult {
	if r.problem != nil {
		return *r.problem
	}
	res := rowResult{Line: r.line, ID: r.id}
	fail := func(err error) rowResult {
		res.Action = "failed"
		var ae *apiError
		if errors.As(err, &ae) {
			res.Error = ae.Body.Message
			res.Fields = ae.Body.Fields
		} else {
			res.Error = err.Error()
		}
		return res
	}
	path := "/v1/users/" + pathEscape(r.id)
	delete(r.obj, "version")
	version := ""
	if r.version > 0 && !force {
		version = strconv.FormatInt(r.version, 10)
	}
	body, err := json.Marshal(r.obj)
	if err != nil {
		return fail(err)
	}
	_, _, err = e.c.do(e.ctx, request{method: "PATCH", path: path, body: body,
		contentType: "application/merge-patch+json", ifMatch: version})
	if statusOf(err) == 404 {
		if version != "" {
			return fail(fmt.Errorf("version %s given, but user %s does not exist", version, r.id))
		}
		if _, _, err = e.c.do(e.ctx, request{method: "PUT", path: path, body: body}); err != nil {
			return fail(err)
		}
		res.Action = "created"
		return res
	}
	if err != nil {
		return fail(err)
	}
	res.Action = "updated"
	return res
}

func parseCSV(data []byte) ([]bulkRow, error) {
	rd := csv.NewReader(bytes.NewReader(data))
	rd.FieldsPerRecord = -1 // a short row is reported as that row's problem
	header, err := rd.Read()
	if err != nil {
		return nil, &usageError{fmt.Sprintf("CSV header: %v", err)}
	}
	cols := make([]column, len(header))
	hasID := false
	var bad []string
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		c, ok := columnByName(h)
		if !ok {
			bad = append(bad, fmt.Sprintf("%q", h))
		}
		cols[i] = c
		hasID = hasID || h == "id"
	}
	if bad != nil {
		return nil, &usageError{fmt.Sprintf("CSV header: unknown column(s) %s (README.md lists the columns)", strings.Join(bad, ", "))}
	}
	if !hasID {
		return nil, &usageError{"CSV header: the id column is required"}
	}
	var rows []bulkRow
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, err
			}
			rows = append(rows, bulkRow{line: pe.StartLine, problem: &rowResult{Line: pe.StartLine, Action: "failed",
				Error: "not valid CSV: " + pe.Err.Error()}})
			continue
		}
		line, _ := rd.FieldPos(0)
		rows = append(rows, csvRow(cols, rec, line))
	}
}

func csvRow(cols []column, rec []string, line int) bulkRow {
	r := bulkRow{line: line, obj: map[string]any{}}
	var fields []api.FieldError
	if len(rec) != len(cols) {
		fields = append(fields, api.FieldError{Path: "", Reason: fmt.Sprintf("%d cells, the header has %d", len(rec), len(cols))})
	}
	for i, cell := range rec {
		if i >= len(cols) {
			break
		}
		c := cols[i]
		cell = strings.TrimSpace(cell)
		if cell == "" {
			continue
		}
		var v any
		switch c.kind {
		case colString:
			v = cell
		case colBool:
			b, err := strconv.ParseBool(cell)
			if err != nil {
				fields = append(fields, api.FieldError{Path: c.name, Reason: fmt.Sprintf("%q is not true or false", cell)})
				continue
			}
			v = b
		case colInt:
			n, err := strconv.ParseInt(cell, 10, 64)
			if err != nil {
				fields = append(fields, api.FieldError{Path: c.name, Reason: fmt.Sprintf("%q is not a whole number", cell)})
				continue
			}
			v = n
		case colJSON:
			if err := json.Unmarshal([]byte(cell), &v); err != nil {
				fields = append(fields, api.FieldError{Path: c.name, Reason: "not valid JSON: " + err.Error()})
				continue
			}
		}
		if c.name == "id" {
			r.id = cell
		}
		if c.name == "version" {
			r.version = v.(int64)
		}
		setPath(r.obj, c.name, v)
	}
	if r.id == "" {
		fields = append(fields, api.FieldError{Path: "id", Reason: "required"})
	}
	if fields != nil {
		r.problem = &rowResult{Line: line, ID: r.id, Action: "failed", Error: "the row is invalid", Fields: fields}
	}
	return r
}

func setPath(obj map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[parts[len(parts)-1]] = v
}

// parseJSONRows reads an array of sheets, noting the line each starts on.
func parseJSONRows(data []byte) ([]bulkRow, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, &usageError{"JSON import: the file must be an array of sheets ([{…}, {…}])"}
	}
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:off], []byte("\n")) }
	var rows []bulkRow
	for dec.More() {
		start := dec.InputOffset()
		// InputOffset is before any separator: skip it to the value's own line.
		for start < int64(len(data)) && strings.ContainsRune(", \t\r\n", rune(data[start])) {
			start++
		}
		line := lineAt(start)
		var v any
		if err := dec.Decode(&v); err != nil {
			rows = append(rows, bulkRow{line: line, problem: &rowResult{Line: line, Action: "failed", Error: "not valid JSON: " + err.Error()}})
			return rows, nil // the decoder cannot resynchronize
		}
		obj, ok := v.(map[string]any)
		if !ok {
			rows = append(rows, bulkRow{line: line, problem: &rowResult{Line: line, Action: "failed", Error: "not a JSON object"}})
			continue
		}
		r := bulkRow{line: line, obj: obj}
		r.id, _ = obj["id"].(string)
		if n, ok := obj["version"].(json.Number); ok {
			r.version, _ = n.Int64()
		}
		if r.id == "" {
			r.problem = &rowResult{Line: line, Action: "failed", Error: "the row is invalid", Fields: []api.FieldError{{Path: "id", Reason: "required"}}}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func usersExport(fs *flag.FlagSet) func(*env, []string) error {
	format := fs.String("format", "csv", "csv or json")
	site := fs.String("site", "", "only users of this `site`")
	file := fs.String("file", "", "write to this `file` (default: stdout)")
	return func(e *env, args []string) error {
		if err := nargs(args, 0, "no argument"); err != nil {
			return err
		}
		if *format != "csv" && *format != "json" {
			return usagef("--format: want csv or json")
		}
		q := url.Values{}
		if *site != "" {
			q.Set("site", *site)
		}
		users, err := listAll[*config.Sheet](e, "/v1/users", q, 0)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if *format == "json" {
			b, err := json.MarshalIndent(users, "", "  ")
			if err != nil {
				return err
			}
			buf.Write(append(b, '\n'))
		} else if err := writeCSV(&buf, users); err != nil {
			return err
		}
		if *file == "" {
			_, err = e.out.Write(buf.Bytes())
			return err
		}
		if err := os.WriteFile(*file, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.errw, "%d users written to %s\n", len(users), *file)
		return nil
	}
}

func writeCSV(w io.Writer, users []*config.Sheet) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		header[i] = c.name
	}
	cw.Write(header)
	for _, u := range users {
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return err
		}
		rec := make([]string, len(csvColumns))
		for i, c := range csvColumns {
			rec[i] = cellOf(getPath(obj, c.name), c.kind)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func getPath(obj map[string]any, path string) any {
	var v any = obj
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func cellOf(v any, kind colKind) string {
	if v == nil {
		return ""
	}
	if kind == colJSON {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}
