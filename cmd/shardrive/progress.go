package main

// Progress bars for transfers and long commands. They go to stderr, and
// only when stderr is a terminal that can redraw a line with \r: scripts,
// CI logs and redirected output get nothing at all, and stdout keeps only
// the command's result. The bar is plain ASCII without colour, so NO_COLOR
// holds as it is; TERM=dumb (editor shells, which do not honour \r) gets
// no bar.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"
)

const (
	progressInterval = 100 * time.Millisecond // at most ~10 redraws a second
	rateWindow       = 5 * time.Second        // the rate, and so the ETA, follows this much recent time
	minRateSpan      = time.Second            // no rate nor ETA before this much was measured
	maxBarWidth      = 40
	minBarWidth      = 10
	defaultTermWidth = 80 // when the terminal does not say
)

// canRedraw reports whether f is a terminal a progress line may be drawn
// on: a real terminal (isTerminal) whose TERM is not dumb.
func canRedraw(f *os.File, getenv func(string) string) bool {
	return getenv("TERM") != "dumb" && isTerminal(f)
}

// progress is one line on a terminal: label, bar, percentage, bytes done
// of the total, rate and ETA. A nil *progress draws nothing, so commands
// call it whether or not stderr is a terminal.
type progress struct {
	w     io.Writer
	label string
	width int // columns of the terminal
	now   func() time.Time
	start time.Time

	mu      sync.Mutex // guards the fields below
	total   int64      // <= 0: unknown (stdin)
	done    int64
	samples []rateSample // oldest first, the first at most rateWindow before the last draw
	drawn   time.Time    // when the line was last drawn; zero: never
	lineLen int          // columns the drawn line takes
	ended   bool
}

type rateSample struct {
	t time.Time
	n int64
}

// newProgress returns a bar on stderr for total bytes (<= 0 if unknown),
// or nil when stderr is no terminal to draw it on.
func newProgress(label string, total int64) *progress {
	if !canRedraw(os.Stderr, os.Getenv) {
		return nil
	}
	return newProgressTo(os.Stderr, label, total, termWidth(os.Stderr), time.Now)
}

// newProgressTo returns a bar drawn on w, width columns wide (<= 0: the
// default), with the clock now.
func newProgressTo(w io.Writer, label string, total int64, width int, now func() time.Time) *progress {
	if width <= 0 {
		width = defaultTermWidth
	}
	t := now()
	return &progress{w: w, label: printable(label), width: width, now: now, start: t, total: total,
		samples: []rateSample{{t: t}}}
}

// Add counts n more bytes done.
func (p *progress) Add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.maybeDraw()
}

// Set says done bytes are done (for work measured by polling).
func (p *progress) Set(done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.maybeDraw()
}

// SetTotal changes the total (for work that grows while it runs).
func (p *progress) SetTotal(total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = total
}

// Done draws the final state, with the average rate, and ends the line.
// It prints nothing if nothing was ever measured.
func (p *progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	if p.drawn.IsZero() && p.done == 0 && p.total <= 0 {
		return
	}
	p.draw(p.now(), true)
	fmt.Fprint(p.w, "\n")
}

// Abort clears the line, so that an error message starts on a clean one.
func (p *progress) Abort() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	if p.lineLen > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.lineLen)+"\r")
		p.lineLen = 0
	}
}

// End is Done if err is nil, else Abort.
func (p *progress) End(err error) {
	if err == nil {
		p.Done()
	} else {
		p.Abort()
	}
}

// maybeDraw redraws the line unless it was drawn less than
// progressInterval ago. Caller holds p.mu.
func (p *progress) maybeDraw() {
	if p.ended {
		return
	}
	now := p.now()
	if !p.drawn.IsZero() && now.Sub(p.drawn) < progressInterval {
		return
	}
	p.draw(now, false)
}

// draw writes the line over the previous one, padding with spaces what
// a longer previous line left (no escape sequences: any terminal
// honours \r). Caller holds p.mu.
func (p *progress) draw(now time.Time, final bool) {
	line := p.line(now, final)
	n := len([]rune(line))
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", max(0, p.lineLen-n)))
	p.lineLen = n
	p.drawn = now
	p.samples = append(p.samples, rateSample{t: now, n: p.done})
	for len(p.samples) > 1 && !p.samples[1].t.After(now.Add(-rateWindow)) {
		p.samples = p.samples[1:]
	}
}

// rate is bytes per second over the recent window, or over the whole run
// for the final line; 0 (not shown) while less than minRateSpan was
// measured, where it would be noise.
func (p *progress) rate(now time.Time, final bool) float64 {
	from := p.samples[0]
	if final {
		from = rateSample{t: p.start}
	}
	dt := now.Sub(from.t)
	if dt <= 0 || !final && dt < minRateSpan {
		return 0
	}
	return max(0, float64(p.done-from.n)/dt.Seconds())
}

// line renders the state, at most width-1 columns wide (the last column
// would make some terminals wrap). Its fields have fixed widths, so the
// bar keeps its length from one frame to the next.
func (p *progress) line(now time.Time, final bool) string {
	rate, eta := "", ""
	if r := p.rate(now, final); r > 0 {
		rate = ibytes(int64(r)) + "/s"
		if !final && p.total > 0 && p.done < p.total {
			eta = "ETA " + formatETA(time.Duration(float64(p.total-p.done)/r*float64(time.Second)))
		}
	}
	avail := p.width - 1
	if p.total <= 0 {
		return truncate(strings.TrimRight(fmt.Sprintf("%s  %8s  %10s", p.label, ibytes(p.done), rate), " "), avail)
	}
	pct := min(100, p.done*100/p.total)
	tail := fmt.Sprintf("%3d%%  %8s / %-8s  %10s  %-9s", pct, ibytes(p.done), ibytes(p.total), rate, eta)
	fixed := len(tail) + 4 // " [" and "] "
	label := p.label
	barW := min(maxBarWidth, avail-len([]rune(label))-fixed)
	if barW < minBarWidth {
		label, barW = truncate(label, avail-fixed-minBarWidth), minBarWidth
	}
	line := label + " [" + bar(p.done, p.total, barW) + "] " + tail
	return truncate(strings.Trim(line, " "), avail)
}

// bar is width columns: '=' for what is done, '>' at its edge.
func bar(done, total int64, width int) string {
	filled := int(min(int64(width), int64(width)*max(0, done)/total))
	b := strings.Repeat("=", filled)
	if filled > 0 && filled < width {
		b = b[:filled-1] + ">"
	}
	return b + strings.Repeat(" ", width-filled)
}

// cacheBar shows the local cache against its limit: '#' for bytes not
// stored on the farmers yet, '=' for stored ones.
func cacheBar(bytes, dirty, limit int64, width int) string {
	used := int(min(int64(width), int64(width)*max(0, bytes)/limit))
	d := int(min(int64(used), int64(width)*max(0, dirty)/limit))
	if dirty > 0 && d == 0 {
		d = min(1, used) // a little unstored data still shows
	}
	return "[" + strings.Repeat("#", d) + strings.Repeat("=", used-d) + strings.Repeat(" ", width-used) + "]"
}

func ibytes(n int64) string { return humanize.IBytes(uint64(max(0, n))) }

// formatETA is a short duration: 7s, 2m05s, 1h02m.
func formatETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 100*3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return "--"
	}
}

// truncate cuts s to n columns, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	switch {
	case len(r) <= n:
		return s
	case n <= 0:
		return ""
	}
	return string(r[:n-1]) + "…"
}

// printable replaces control characters (a file name may hold any) so
// they cannot move the cursor or change the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

// progressReader counts what is read through it.
type progressReader struct {
	r io.Reader
	p *progress
}

func (r progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.Add(int64(n))
	return n, err
}

// reader returns r counting into p (r itself when p is nil).
func (p *progress) reader(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return progressReader{r: r, p: p}
}

// progressWriterAt counts what is written through it, from any goroutine.
type progressWriterAt struct {
	w io.WriterAt
	p *progress
}

func (w progressWriterAt) WriteAt(b []byte, off int64) (int, error) {
	n, err := w.w.WriteAt(b, off)
	w.p.Add(int64(n))
	return n, err
}

// writerAt returns w counting into p (w itself when p is nil).
func (p *progress) writerAt(w io.WriterAt) io.WriterAt {
	if p == nil {
		return w
	}
	return progressWriterAt{w: w, p: p}
}

// queueProgress turns readings of an upload queue's dirty bytes into bytes
// uploaded out of bytes queued: the first reading is the total, later
// ones what is left. When the queue grows past what is left (writes
// landing meanwhile) the total grows; what is done never goes back.
type queueProgress struct {
	total, done int64
	seen        bool
}

func (q *queueProgress) observe(dirty int64) {
	dirty = max(0, dirty)
	switch left := q.total - q.done; {
	case !q.seen:
		q.total, q.seen = dirty, true
	case dirty > left:
		q.total = q.done + dirty
	default:
		q.done = q.total - dirty
	}
}

// queuePollInterval is how often a queue watch reads the queue at least;
// a slow reading stretches it, so watching never costs much.
const queuePollInterval = 500 * time.Millisecond

// queueWatch draws the upload queue draining while a sync runs.
type queueWatch struct {
	p      *progress
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards q
	q      queueProgress
}

// watchQueue polls dirty (the queue's dirty bytes) until stop, drawing
// bytes uploaded out of bytes queued. It returns nil, and polls nothing,
// when stderr is no terminal.
func watchQueue(ctx context.Context, label string, dirty func(context.Context) (int64, error)) *queueWatch {
	p := newProgress(label, 0)
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &queueWatch{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.run(ctx, dirty)
	}()
	return w
}

func (w *queueWatch) run(ctx context.Context, dirty func(context.Context) (int64, error)) {
	for {
		start := time.Now()
		if n, err := dirty(ctx); err == nil {
			w.mu.Lock()
			w.q.observe(n)
			q := w.q
			w.mu.Unlock()
			if q.total > 0 {
				w.p.SetTotal(q.total)
				w.p.Set(q.done)
			}
		}
		t := time.NewTimer(max(queuePollInterval, 4*time.Since(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stop ends the watch. After a sync that succeeded everything queued is
// stored: the bar ends full; otherwise it is cleared for the error.
func (w *queueWatch) stop(err error) {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
	if err != nil {
		w.p.Abort()
		return
	}
	w.mu.Lock()
	total := w.q.total
	w.mu.Unlock()
	if total > 0 {
		w.p.SetTotal(total)
		w.p.Set(total)
	}
	w.p.Done()
}
