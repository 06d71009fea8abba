// Alcor data plane: tc BPF programs for workload veths and the host's collect_md VXLAN device.
//
// from_workload runs on clsact ingress of the host side of every workload veth (packets the
// workload sends); from_tunnel runs on clsact ingress of the host's external-mode VXLAN device
// (decapsulated packets from other hosts). Both share the maps below, which the agent pins under
// bpffs so that traffic keeps flowing while the agent restarts. The layouts are mirrored in
// layout.py; the driver checks the sizes libbpf reports against it at every load.
//
// Build: clang -O2 -g -target bpf -I/usr/include/$(arch)-linux-gnu -c dp.bpf.c

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// <linux/if_arp.h> and <linux/icmp.h> pull in glibc headers under -target bpf, so the ARP and
// ICMP echo layouts are local.
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

struct arp_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

struct icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

#ifndef MAX_RANGES
#define MAX_RANGES 16
#endif

// Security-group rule directions, as in alcor.v1.Direction.
#define DIR_INGRESS 1
#define DIR_EGRESS 2

#define EP_LOCAL 1   // endpoint is a workload on this host (ifindex), else remote (host_ip)
#define PORT_SG 1    // security groups are enforced for this port
#define CT_EGRESS 1  // the source port's egress rules accepted the flow
#define CT_INGRESS 2 // the destination port's ingress rules accepted the flow

// Counters; the order is mirrored by COUNTERS in layout.py (a unit test compares them).
enum stat {
	STAT_RX_WORKLOAD,
	STAT_RX_TUNNEL,
	STAT_TX_LOCAL,
	STAT_TX_TUNNEL,
	STAT_ARP_REPLY,
	STAT_DROP_NO_PORT,
	STAT_DROP_SPOOF_MAC,
	STAT_DROP_SPOOF_IP,
	STAT_DROP_NO_ROUTE,
	STAT_DROP_SG_EGRESS,
	STAT_DROP_SG_INGRESS,
	STAT_DROP_TUNNEL_SRC,
	STAT_DROP_NOT_IPV4,
	STAT_DROP_MALFORMED,
	STAT_DROP_TTL,
	STAT_DROP_ARP,
	STAT_DROP_NO_CONFIG,
	STAT_DROP_FRAGMENT,
	STAT_MAX,
};

// Ethernet, IPv4 without options and the first 8 bytes of L4: everything the programs read.
#define HEADERS_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + 8)

struct endpoint_key {
	__u32 vni;
	__be32 ip;
};

struct endpoint {
	__u32 ifindex;   // local: host side of the workload veth
	__be32 host_ip;  // remote: underlay IP of the owning host
	__u8 mac[ETH_ALEN];
	__u8 flags;      // EP_LOCAL
	__u8 pad;
};

struct port {
	__u32 vni;
	__u8 mac[ETH_ALEN];
	__u8 flags;      // PORT_SG
	__u8 pad;
	__u32 rules_version; // changes whenever the port's compiled rules change: stale conntrack is re-checked
};

struct config {
	__u32 vxlan_ifindex;
	__u8 gateway_mac[ETH_ALEN];
	__u8 pad[2];
};

// LPM key: prefixlen counts the bits after it; ifindex, direction, proto and pad always match
// fully (64 bits) and remote by the rule's prefix, so prefixlen = 64 + rule prefix length.
struct rule_key {
	__u32 prefixlen;
	__u32 ifindex;
	__u8 direction;
	__u8 proto;
	__u16 pad;
	__be32 remote;
};

struct port_range {
	__u16 min; // host byte order, inclusive
	__u16 max;
};

// The value of the longest matching prefix already holds the ranges of every broader prefix of
// the same (port, direction, proto): the agent compiles it so, because LPM returns one entry.
struct rule_value {
	__u32 count;
	struct port_range ranges[MAX_RANGES];
};

struct ct_key {
	__u32 vni;
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct ct_value {
	__u32 egress_version;  // rules_version of the source port when CT_EGRESS was set
	__u32 ingress_version; // rules_version of the destination port when CT_INGRESS was set
	__u8 flags;
	__u8 pad[3];
};

// max_entries are defaults; the driver sets them from its configuration before load.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct port);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rule_key);
	__type(value, struct rule_value);
} sg_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, struct ct_value);
} conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &idx);

	if (c)
		*c += 1;
}

static __always_inline int drop(__u32 reason)
{
	count(reason);
	return TC_ACT_SHOT;
}

// clang 14 does not lower __builtin_memcmp for BPF
static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

static __always_inline void set_macs(struct ethhdr *eth, const __u8 *src, const __u8 *dst)
{
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
}

// The five-tuple of an IPv4 packet; the ICMP echo id stands in for both ports so that echo
// requests and replies share a conntrack entry.
struct flow {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

// Parses L4 ports of the IPv4 packet starting at iph; returns a STAT_DROP_* or -1 when fine.
static __always_inline int parse_flow(struct __sk_buff *skb, struct iphdr *iph, struct flow *f)
{
	void *data_end = (void *)(long)skb->data_end;

	f->src = iph->saddr;
	f->dst = iph->daddr;
	f->proto = iph->protocol;
	f->sport = 0;
	f->dport = 0;
	if (iph->ihl != 5)
		return STAT_DROP_MALFORMED; // IP options: not produced by our workloads' stacks
	if (iph->frag_off & bpf_htons(0x1fff))
		return STAT_DROP_FRAGMENT; // non-first fragments carry no ports to filter on
	void *l4 = (void *)(iph + 1);

	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return STAT_DROP_MALFORMED;
		f->sport = ports[0];
		f->dport = ports[1];
	} else if (iph->protocol == IPPROTO_ICMP) {
		struct icmp_echo *icmp = l4;

		if ((void *)(icmp + 1) > data_end)
			return STAT_DROP_MALFORMED;
		if (icmp->type == ICMP_ECHO || icmp->type == ICMP_ECHOREPLY) {
			f->sport = icmp->id;
			f->dport = icmp->id;
		}
	}
	return -1;
}

static __always_inline int ranges_match(const struct rule_value *v, __u16 port)
{
#pragma unroll
	for (int i = 0; i < MAX_RANGES; i++) {
		if (i >= v->count)
			return 0;
		if (port >= v->ranges[i].min && port <= v->ranges[i].max)
			return 1;
	}
	return 0;
}

static __always_inline int rules_allow(__u32 ifindex, __u8 direction, const struct flow *f,
				       __be32 remote)
{
	struct rule_key k = {
		.prefixlen = 96,
		.ifindex = ifindex,
		.direction = direction,
		.proto = f->proto,
		.remote = remote,
	};
	__u16 port = bpf_ntohs(f->dport);
	struct rule_value *v = bpf_map_lookup_elem(&sg_rules, &k);

	if (v && ranges_match(v, port))
		return 1;
	k.proto = 0; // rules for any protocol
	v = bpf_map_lookup_elem(&sg_rules, &k);
	return v && ranges_match(v, port);
}

static __always_inline void ct_record(struct ct_key *key, __u8 flag, __u32 version)
{
	struct ct_value *ct = bpf_map_lookup_elem(&conntrack, key);

	if (ct) {
		ct->flags |= flag;
		if (flag == CT_EGRESS)
			ct->egress_version = version;
		else
			ct->ingress_version = version;
		return;
	}
	struct ct_value fresh = {.flags = flag};

	if (flag == CT_EGRESS)
		fresh.egress_version = version;
	else
		fresh.ingress_version = version;
	bpf_map_update_elem(&conntrack, key, &fresh, BPF_ANY);
}

// Stateful check of one side of a flow: the source port's egress (direction DIR_EGRESS) or the
// destination port's ingress. A flow is accepted if this side accepted it before under the same
// rules version, if it answers a flow this side accepted in the other direction, or if the
// rules allow it now (then it is recorded).
static __always_inline int sg_pass(__u32 vni, const struct flow *f, __u8 direction, __u32 ifindex,
				   const struct port *p)
{
	if (!(p->flags & PORT_SG))
		return 1;
	__u8 mine = direction == DIR_EGRESS ? CT_EGRESS : CT_INGRESS;
	__u8 theirs = direction == DIR_EGRESS ? CT_INGRESS : CT_EGRESS;
	struct ct_key fwd = {
		.vni = vni, .src = f->src, .dst = f->dst,
		.sport = f->sport, .dport = f->dport, .proto = f->proto,
	};
	struct ct_key rev = {
		.vni = vni, .src = f->dst, .dst = f->src,
		.sport = f->dport, .dport = f->sport, .proto = f->proto,
	};
	struct ct_value *ct = bpf_map_lookup_elem(&conntrack, &fwd);

	if (ct && (ct->flags & mine) &&
	    (direction == DIR_EGRESS ? ct->egress_version : ct->ingress_version) == p->rules_version)
		return 1;
	ct = bpf_map_lookup_elem(&conntrack, &rev);
	if (ct && (ct->flags & theirs) &&
	    (direction == DIR_EGRESS ? ct->ingress_version : ct->egress_version) == p->rules_version)
		return 1;
	if (!rules_allow(ifindex, direction, f, direction == DIR_EGRESS ? f->dst : f->src))
		return 0;
	ct_record(&fwd, mine, p->rules_version);
	return 1;
}

// Delivers to a local workload after its ingress rules; the caller has checked ep is EP_LOCAL.
static __always_inline int deliver_local(struct __sk_buff *skb, __u32 vni, const struct flow *f,
					 const struct endpoint *ep, const struct config *cfg)
{
	struct port *dp = bpf_map_lookup_elem(&ports, &ep->ifindex);

	if (!dp)
		return drop(STAT_DROP_NO_ROUTE);
	if (!sg_pass(vni, f, DIR_INGRESS, ep->ifindex, dp))
		return drop(STAT_DROP_SG_INGRESS);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	set_macs(eth, cfg->gateway_mac, ep->mac);
	count(STAT_TX_LOCAL);
	// straight into the workload's namespace: no second pass through the host-side veth
	return bpf_redirect_peer(ep->ifindex, 0);
}

static __always_inline int answer_arp(struct __sk_buff *skb, struct ethhdr *eth, const struct port *p,
				      const struct config *cfg)
{
	void *data_end = (void *)(long)skb->data_end;
	struct arp_ipv4 *arp = (void *)(eth + 1);
	__u8 spa[4], tpa[4];

	if ((void *)(arp + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != ETH_ALEN ||
	    arp->plen != 4)
		return drop(STAT_DROP_MALFORMED);
	__builtin_memcpy(spa, arp->spa, 4);
	__builtin_memcpy(tpa, arp->tpa, 4);
	// requests only; gratuitous ARP and probes (sender 0.0.0.0) need no answer
	if (arp->op != bpf_htons(ARPOP_REQUEST) || *(__u32 *)spa == *(__u32 *)tpa || *(__u32 *)spa == 0)
		return drop(STAT_DROP_ARP);
	struct endpoint_key sk = {.vni = p->vni};

	__builtin_memcpy(&sk.ip, spa, 4);
	struct endpoint *src = bpf_map_lookup_elem(&endpoints, &sk);

	if (!src || !(src->flags & EP_LOCAL) || src->ifindex != skb->ifindex)
		return drop(STAT_DROP_SPOOF_IP);
	// every address is behind the gateway: one MAC for all, routing happens at L3
	arp->op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->tha, arp->sha, ETH_ALEN);
	__builtin_memcpy(arp->tpa, spa, 4);
	__builtin_memcpy(arp->sha, cfg->gateway_mac, ETH_ALEN);
	__builtin_memcpy(arp->spa, tpa, 4);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->gateway_mac, ETH_ALEN);
	count(STAT_ARP_REPLY);
	return bpf_redirect(skb->ifindex, 0);
}

SEC("tc")
int from_workload(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 ifindex = skb->ifindex;

	count(STAT_RX_WORKLOAD);
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);

	if (!cfg || !cfg->vxlan_ifindex)
		return drop(STAT_DROP_NO_CONFIG);
	struct port *p = bpf_map_lookup_elem(&ports, &ifindex);

	if (!p)
		return drop(STAT_DROP_NO_PORT);
	// headers in paged data: make just them linear (len 0 would linearize a whole GSO packet)
	if (skb->data + HEADERS_LEN > skb->data_end)
		bpf_skb_pull_data(skb, HEADERS_LEN);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	if (!mac_eq(eth->h_source, p->mac))
		return drop(STAT_DROP_SPOOF_MAC);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return answer_arp(skb, eth, p, cfg);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return drop(STAT_DROP_NOT_IPV4);
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	struct flow f;
	int bad = parse_flow(skb, iph, &f);

	if (bad >= 0)
		return drop(bad);
	struct endpoint_key key = {.vni = p->vni, .ip = f.src};
	struct endpoint *src = bpf_map_lookup_elem(&endpoints, &key);

	if (!src || !(src->flags & EP_LOCAL) || src->ifindex != ifindex)
		return drop(STAT_DROP_SPOOF_IP);
	key.ip = f.dst;
	struct endpoint *dst = bpf_map_lookup_elem(&endpoints, &key);

	if (!dst)
		return drop(STAT_DROP_NO_ROUTE);
	if (iph->ttl <= 1)
		return drop(STAT_DROP_TTL);
	if (!sg_pass(p->vni, &f, DIR_EGRESS, ifindex, p))
		return drop(STAT_DROP_SG_EGRESS);
	// a routed hop: decrement TTL, incremental checksum update as in the kernel's ip_decrease_ttl
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xFFFF));
	iph->ttl--;
	if (dst->flags & EP_LOCAL)
		return deliver_local(skb, p->vni, &f, dst, cfg);
	set_macs(eth, cfg->gateway_mac, dst->mac);
	struct bpf_tunnel_key tk = {
		.tunnel_id = p->vni,
		.remote_ipv4 = bpf_ntohl(dst->host_ip), // the helper takes host byte order
		.tunnel_ttl = 64,
	};

	if (bpf_skb_set_tunnel_key(skb, &tk, sizeof(tk), BPF_F_ZERO_CSUM_TX) < 0)
		return drop(STAT_DROP_NO_CONFIG);
	count(STAT_TX_TUNNEL);
	return bpf_redirect(cfg->vxlan_ifindex, 0);
}

SEC("tc")
int from_tunnel(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct bpf_tunnel_key tk = {};

	count(STAT_RX_TUNNEL);
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);

	if (!cfg)
		return drop(STAT_DROP_NO_CONFIG);
	if (bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk), 0) < 0)
		return drop(STAT_DROP_TUNNEL_SRC);
	if (skb->data + HEADERS_LEN > skb->data_end)
		bpf_skb_pull_data(skb, HEADERS_LEN);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return drop(STAT_DROP_NOT_IPV4);
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return drop(STAT_DROP_MALFORMED);
	struct flow f;
	int bad = parse_flow(skb, iph, &f);

	if (bad >= 0)
		return drop(bad);
	__u32 vni = (__u32)tk.tunnel_id & 0xffffff;
	struct endpoint_key key = {.vni = vni, .ip = f.src};
	struct endpoint *src = bpf_map_lookup_elem(&endpoints, &key);

	// the inner source must be a remote endpoint of this VPC owned by the outer source host
	if (!src || (src->flags & EP_LOCAL) || src->host_ip != bpf_htonl(tk.remote_ipv4))
		return drop(STAT_DROP_TUNNEL_SRC);
	key.ip = f.dst;
	struct endpoint *dst = bpf_map_lookup_elem(&endpoints, &key);

	if (!dst || !(dst->flags & EP_LOCAL))
		return drop(STAT_DROP_NO_ROUTE);
	return deliver_local(skb, vni, &f, dst, cfg);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
