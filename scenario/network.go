package scenario

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// The virtual network is TEST-NET-2 (RFC 5737): no real network routes it, so nothing a
// scenario sends can leave the process. The SFU is .10; participants get .11, .12, ...
const (
	netPrefix = "198.51.100."
	netCIDR   = netPrefix + "0/24"
	// SFUAddr is the SFU's address on a scenario's virtual network.
	SFUAddr = netPrefix + "10"
)

// LinkConfig shapes what one host receives: its downlink. Zero values leave it clean.
type LinkConfig struct {
	// RateBps is the token-bucket rate in bits per second; 0 is unshaped.
	RateBps int
	// QueueDelay sizes the bottleneck queue as this long at the current rate (what a
	// tc tbf "latency" does); what finds the queue full is dropped. Default 200 ms.
	QueueDelay time.Duration
	// LossPercent drops this share of every packet at random (0..100).
	LossPercent int
	// Delay is a one-way propagation delay added to every packet.
	Delay time.Duration
	// Seed makes random loss repeatable (0: a fixed default).
	Seed int64
}

const (
	defaultQueueDelay = 200 * time.Millisecond
	// A token bucket must hold at least one full packet or it never releases it; two
	// MTUs, or 10 ms at the rate when that is more, is about what tc users configure.
	minBurstBytes = 3000
	minQueueBytes = 3000
)

// BurstBytes is the token bucket size used for a rate: 10 ms of it, at least two MTUs.
func BurstBytes(rateBps int) int { return max(minBurstBytes, rateBps/8/100) }

// QueueBytes is the queue limit for a rate and a queueing delay.
func QueueBytes(rateBps int, d time.Duration) int {
	if d <= 0 {
		d = defaultQueueDelay
	}
	return max(minQueueBytes, int(float64(rateBps)/8*d.Seconds()))
}

// Link is one host's downlink on the virtual network. Its rate and loss can change while a
// scenario runs.
type Link struct {
	Name string
	IP   string
	Net  *vnet.Net

	cfg  LinkConfig
	tbf  *vnet.TBFQueue // nil when the link was built unshaped
	loss *vnet.LossFilter

	rate atomic.Int64 // bits per second, 0 unshaped

	// Counted by the router on the way in (before the shaping): what was offered to the
	// link. RTP only, by the rule of RFC 5761 section 4 and RFC 7983.
	offeredPkts  atomic.Uint64
	offeredBytes atomic.Uint64
}

// RateBps is the link's current rate (0: unshaped).
func (l *Link) RateBps() int { return int(l.rate.Load()) }

// SetRate changes the link's rate at once, with the queue resized to keep its delay. A
// link built unshaped stays unshaped.
func (l *Link) SetRate(bps int) {
	if l.tbf == nil || bps <= 0 {
		return
	}
	l.tbf.SetRate(bps)
	l.tbf.SetBurst(BurstBytes(bps))
	l.tbf.SetSize(int64(QueueBytes(bps, l.cfg.QueueDelay)))
	l.rate.Store(int64(bps))
}

// SetLoss changes the random loss (percent) at once.
func (l *Link) SetLoss(percent int) error {
	if l.loss == nil {
		return fmt.Errorf("%w: link %s was built without a loss filter", ErrBadSpec, l.Name)
	}
	return l.loss.SetLossRate(percent, true)
}

// Offered returns the RTP packets and bytes routed toward the link so far.
func (l *Link) Offered() (packets, bytes uint64) { return l.offeredPkts.Load(), l.offeredBytes.Load() }

// Network is a scenario's virtual network: one pion vnet router, the SFU's host and a host
// per participant, each behind its own (possibly shaped) link.
type Network struct {
	router *vnet.Router

	mu      sync.Mutex // guards next, links, byIP, closers
	next    int
	links   []*Link
	byIP    map[string]*Link
	closers []io.Closer
	started bool
}

// NewNetwork builds an empty virtual network; AddHost adds hosts, Start runs it.
func NewNetwork() (*Network, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = io.Discard
	lf.DefaultLogLevel = logging.LogLevelDisabled
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: netCIDR, LoggerFactory: lf})
	if err != nil {
		return nil, err
	}
	n := &Network{router: r, next: 10, byIP: map[string]*Link{}}
	r.AddChunkFilter(n.count)
	return n, nil
}

// count notes RTP offered to each link. It runs on the router's goroutine and always lets
// the chunk through.
func (n *Network) count(c vnet.Chunk) bool {
	if c.Network() != "udp" {
		return true
	}
	b := c.UserData()
	// RTP: version 2, and not an RTCP packet type (RFC 5761 section 4).
	if len(b) < 12 || b[0]>>6 != 2 || b[1] >= 192 && b[1] <= 223 {
		return true
	}
	dst, ok := c.DestinationAddr().(*net.UDPAddr)
	if !ok {
		return true
	}
	n.mu.Lock()
	l := n.byIP[dst.IP.String()]
	n.mu.Unlock()
	if l != nil {
		l.offeredPkts.Add(1)
		l.offeredBytes.Add(uint64(len(b)))
	}
	return true
}

// AddHost adds a host behind a link shaped by cfg. The first host is the SFU's (SFUAddr).
func (n *Network) AddHost(name string, cfg LinkConfig) (*Link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return nil, errors.New("scenario: network already started")
	}
	if n.next > 250 {
		return nil, errors.New("scenario: network full")
	}
	if cfg.LossPercent < 0 || cfg.LossPercent > 100 || cfg.RateBps < 0 || cfg.Delay < 0 {
		return nil, fmt.Errorf("%w: link %s: %+v", ErrBadSpec, name, cfg)
	}
	ip := netPrefix + strconv.Itoa(n.next)
	n.next++
	vn, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		return nil, err
	}
	l := &Link{Name: name, IP: ip, Net: vn, cfg: cfg}
	// The chain, innermost first: host <- delay <- loss <- token bucket <- router. A packet
	// queues at the bottleneck, may be lost after it, then travels.
	var nic vnet.NIC = vn
	if cfg.Delay > 0 {
		df, err := vnet.NewDelayFilter(nic, vnet.WithDelay(cfg.Delay))
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, df)
		nic = df
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = 7
	}
	lf, err := vnet.NewLossFilter(nic, cfg.LossPercent, vnet.WithLossSeed(seed))
	if err != nil {
		return nil, err
	}
	l.loss = lf
	nic = lf
	if cfg.RateBps > 0 {
		l.tbf = vnet.NewTBFQueue(cfg.RateBps, BurstBytes(cfg.RateBps), int64(QueueBytes(cfg.RateBps, cfg.QueueDelay)))
		q, err := vnet.NewQueue(nic, l.tbf)
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, q)
		nic = q
		l.rate.Store(int64(cfg.RateBps))
	}
	if err := n.router.AddNet(nic); err != nil {
		return nil, err
	}
	n.links = append(n.links, l)
	n.byIP[ip] = l
	return l, nil
}

// Start runs the router.
func (n *Network) Start() error {
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	return n.router.Start()
}

// Close stops the router and every queue and filter goroutine.
func (n *Network) Close() error {
	err := n.router.Stop()
	n.mu.Lock()
	closers := n.closers
	n.closers = nil
	n.mu.Unlock()
	for _, c := range closers {
		err = errors.Join(err, c.Close())
	}
	return err
}
