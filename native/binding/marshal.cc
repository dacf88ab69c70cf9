// Converts the TypeScript plan (host-order numbers) into fn_plan (network order).
#include "marshal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cstring>
#include <string>

#include <rte_malloc.h>

namespace {

[[noreturn]] void Bad(Napi::Env env, const std::string &what)
{
	throw Napi::TypeError::New(env, "native plan: " + what);
}

uint32_t U32(const Napi::Object &o, const char *key, uint32_t max = UINT32_MAX)
{
	Napi::Value v = o.Get(key);
	if (!v.IsNumber())
		Bad(o.Env(), std::string(key) + " must be a number");
	double d = v.As<Napi::Number>().DoubleValue();
	if (d < 0 || d > max || d != static_cast<uint32_t>(d))
		Bad(o.Env(), std::string(key) + " out of range");
	return static_cast<uint32_t>(d);
}

Napi::Array Arr(const Napi::Object &o, const char *key)
{
	Napi::Value v = o.Get(key);
	if (!v.IsArray())
		Bad(o.Env(), std::string(key) + " must be an array");
	return v.As<Napi::Array>();
}

Napi::Uint32Array U32Arr(const Napi::Object &o, const char *key)
{
	Napi::Value v = o.Get(key);
	if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
		Bad(o.Env(), std::string(key) + " must be a Uint32Array");
	return v.As<Napi::Uint32Array>();
}

// A plan is built beside the running one, so both must fit at once.
std::string OutOfMemory(uint32_t n_services, uint32_t n_rs, uint32_t n_sched)
{
	return "native plan: out of DPDK memory for " + std::to_string(n_services) + " services, " +
	       std::to_string(n_rs) + " real servers and " + std::to_string(n_sched) +
	       " scheduling entries beside the running plan (raise dpdk.memory_mb)";
}

Napi::Object At(const Napi::Array &a, uint32_t i)
{
	Napi::Value v = a.Get(i);
	if (!v.IsObject())
		Bad(a.Env(), "array element must be an object");
	return v.As<Napi::Object>();
}

void Str(const Napi::Object &o, const char *key, char *dst, size_t len)
{
	Napi::Value v = o.Get(key);
	if (!v.IsString())
		Bad(o.Env(), std::string(key) + " must be a string");
	std::string s = v.As<Napi::String>().Utf8Value();
	if (s.size() >= len)
		Bad(o.Env(), std::string(key) + " too long");
	std::memcpy(dst, s.c_str(), s.size() + 1);
}

} // namespace

void CfgFromJs(const Napi::Object &o, fn_dp_cfg *c)
{
	std::memset(c, 0, sizeof(*c));
	Napi::Array ports = Arr(o, "ports");
	if (ports.Length() == 0 || ports.Length() > FN_MAX_PORTS)
		Bad(o.Env(), "ports: 1.." + std::to_string(FN_MAX_PORTS) + " expected");
	c->n_ports = ports.Length();
	for (uint32_t i = 0; i < c->n_ports; i++) {
		Napi::Object p = At(ports, i);
		fn_port_cfg *pc = &c->ports[i];
		Str(p, "name", pc->name, sizeof(pc->name));
		Str(p, "device", pc->device, sizeof(pc->device));
		pc->is_ring = p.Get("ring").ToBoolean().Value();
		if (p.Get("kernelInterface").IsString())
			Str(p, "kernelInterface", pc->kernel_if, sizeof(pc->kernel_if));
		std::string steer = p.Get("steering").IsString() ? p.Get("steering").As<Napi::String>().Utf8Value() : "auto";
		if (steer == "auto")
			pc->steering = FN_STEER_AUTO;
		else if (steer == "flow")
			pc->steering = FN_STEER_FLOW;
		else if (steer == "redirect")
			pc->steering = FN_STEER_REDIRECT;
		else
			Bad(o.Env(), "steering must be auto, flow or redirect");
		Napi::Array addrs = Arr(p, "addresses");
		if (addrs.Length() > FN_MAX_PORT_ADDRS)
			Bad(o.Env(), "too many addresses on a port");
		pc->n_addrs = addrs.Length();
		for (uint32_t j = 0; j < pc->n_addrs; j++) {
			Napi::Object a = At(addrs, j);
			pc->addrs[j] = htonl(U32(a, "ip"));
			pc->prefix[j] = static_cast<uint8_t>(U32(a, "prefix", 32));
		}
	}
	Napi::Array lcores = Arr(o, "workerLcores");
	if (lcores.Length() == 0 || lcores.Length() > FN_MAX_WORKERS)
		Bad(o.Env(), "workerLcores: 1.." + std::to_string(FN_MAX_WORKERS) + " expected");
	c->n_workers = lcores.Length();
	for (uint32_t i = 0; i < c->n_workers; i++) {
		Napi::Value v = lcores.Get(i);
		if (!v.IsNumber())
			Bad(o.Env(), "workerLcores entries must be numbers");
		c->worker_lcores[i] = v.As<Napi::Number>().Uint32Value();
	}
	c->mbufs = U32(o, "mbufs");
	c->rx_desc = static_cast<uint16_t>(U32(o, "rxDesc", 65535));
	c->tx_desc = static_cast<uint16_t>(U32(o, "txDesc", 65535));
	c->sessions_max = U32(o, "sessionsMax");
	c->idle_sleep_us = U32(o, "idleSleepUs");
	c->l2fwd = o.Get("l2fwd").ToBoolean().Value() ? 1 : 0;
}

fn_plan *PlanFromJs(const Napi::Object &o)
{
	Napi::Env env = o.Env();
	Napi::Array svcs = Arr(o, "services"), rss = Arr(o, "realServers"), lips = Arr(o, "lips"),
		    pools = Arr(o, "pools"), locals = Arr(o, "locals"), timeouts = Arr(o, "timeouts");
	Napi::Uint32Array sched = U32Arr(o, "sched"), pool_lips = U32Arr(o, "poolLips");
	if (timeouts.Length() != FN_NTIMEOUTS)
		Bad(env, "timeouts must have " + std::to_string(FN_NTIMEOUTS) + " entries");

	fn_plan *p = fn_plan_alloc(svcs.Length(), rss.Length(), sched.ElementLength(), lips.Length(),
				   pools.Length(), pool_lips.ElementLength(), locals.Length());
	if (!p)
		throw Napi::Error::New(env, OutOfMemory(svcs.Length(), rss.Length(), sched.ElementLength()));
	try {
		for (uint32_t i = 0; i < p->n_services; i++) {
			Napi::Object s = At(svcs, i);
			fn_service *d = &p->services[i];
			d->vip = htonl(U32(s, "vip"));
			d->vport = htons(static_cast<uint16_t>(U32(s, "port", 65535)));
			d->proto = static_cast<uint8_t>(U32(s, "proto", 255));
			d->syn_proxy = d->proto == IPPROTO_TCP && s.Get("synProxy").ToBoolean().Value() ? 1 : 0;
			d->id = U32(s, "id");
			d->sched_first = U32(s, "schedFirst");
			d->sched_len = U32(s, "schedLen");
			d->pool = U32(s, "pool");
			d->sched_kind = static_cast<uint8_t>(U32(s, "schedKind", FN_SCHED_LEAST));
			d->nat = s.Get("nat").ToBoolean().Value() ? 1 : 0;
			d->hash_seed = U32(s, "hashSeed");
			d->persist_s = U32(s, "persistS");
			uint32_t plen = U32(s, "persistPrefix", 32);
			d->persist_mask = plen ? htonl(~0u << (32 - plen)) : 0;
			d->rs_first = U32(s, "rsFirst");
			d->rs_count = U32(s, "rsCount");
			d->max_conn = U32(s, "maxConn");
			d->acl_first = U32(s, "aclFirst");
			d->acl_count = U32(s, "aclCount");
			d->acl_default = s.Get("aclDefaultAllow").ToBoolean().Value() ? 1 : 0;
			d->rs_usable = U32(s, "rsUsable");
		}
		for (uint32_t i = 0; i < p->n_rs; i++) {
			Napi::Object r = At(rss, i);
			fn_rs *d = &p->rs[i];
			d->ip = htonl(U32(r, "ip"));
			d->port = htons(static_cast<uint16_t>(U32(r, "port", 65535)));
			d->id = U32(r, "id");
			d->port_idx = static_cast<uint16_t>(U32(r, "portIdx", FN_MAX_PORTS - 1));
			d->nexthop = htonl(U32(r, "nexthop"));
			d->weight = U32(r, "weight");
			d->max_conn = U32(r, "maxConn");
		}
		std::memcpy(p->sched, sched.Data(), sizeof(uint32_t) * p->n_sched);
		for (uint32_t i = 0; i < p->n_lips; i++) {
			Napi::Object l = At(lips, i);
			p->lips[i].ip = htonl(U32(l, "ip"));
			p->lips[i].port_idx = static_cast<uint16_t>(U32(l, "portIdx", FN_MAX_PORTS - 1));
			p->lips[i].lo = static_cast<uint16_t>(U32(l, "lo", 65535));
			p->lips[i].hi = static_cast<uint16_t>(U32(l, "hi", 65535));
		}
		for (uint32_t i = 0; i < p->n_pools; i++) {
			Napi::Object l = At(pools, i);
			p->pools[i].first = U32(l, "first");
			p->pools[i].count = U32(l, "count");
		}
		std::memcpy(p->pool_lips, pool_lips.Data(), sizeof(uint32_t) * p->n_pool_lips);
		for (uint32_t i = 0; i < p->n_locals; i++) {
			Napi::Object l = At(locals, i);
			p->locals[i].ip = htonl(U32(l, "ip"));
			p->locals[i].arp_ports = U32(l, "arpPorts");
			p->locals[i].flags = (l.Get("lip").ToBoolean().Value() ? FN_LOCAL_LIP : 0) |
					     (l.Get("kernel").ToBoolean().Value() ? FN_LOCAL_KERNEL : 0);
		}
		p->half_open_max = U32(o, "halfOpenMax");
		p->half_open_drop_new = o.Get("halfOpenDropNew").ToBoolean().Value() ? 1 : 0;
		p->client_max = U32(o, "maxPerClient");
		p->icmp_rate = U32(o, "icmpRate", UINT32_MAX);
		p->icmp_min_path_mtu = U32(o, "icmpMinPathMtu", 65535);
		p->icmp_hand_on_rate = U32(o, "icmpHandOnRate", UINT32_MAX);
		p->ctl_rate = U32(o, "controlRate", UINT32_MAX);
		Napi::Uint32Array port_addrs = U32Arr(o, "portAddrs");
		for (size_t i = 0; i < port_addrs.ElementLength() && i < FN_MAX_PORTS; i++)
			p->port_addr[i] = htonl(port_addrs[i]);
		Napi::Array acl = Arr(o, "acl");
		p->n_acl = acl.Length();
		p->acl = static_cast<fn_acl *>(rte_zmalloc("fn_plan", sizeof(fn_acl) * (p->n_acl + 1), 64));
		if (!p->acl)
			throw Napi::Error::New(env, OutOfMemory(p->n_services, p->n_rs, p->n_sched));
		for (uint32_t i = 0; i < p->n_acl; i++) {
			Napi::Object a = At(acl, i);
			uint32_t plen = U32(a, "prefix", 32);
			p->acl[i].mask = plen ? htonl(~0u << (32 - plen)) : 0;
			p->acl[i].net = htonl(U32(a, "net")) & p->acl[i].mask;
			p->acl[i].allow = a.Get("allow").ToBoolean().Value() ? 1 : 0;
		}
		Napi::Value reset = o.Get("resetRealServers");
		if (reset.IsArray() && reset.As<Napi::Array>().Length() > 0) {
			Napi::Array ids = reset.As<Napi::Array>();
			p->reset_rs = static_cast<uint64_t *>(rte_zmalloc("fn_plan", FN_MAX_RS / 8, 64));
			if (!p->reset_rs)
				throw Napi::Error::New(env, OutOfMemory(p->n_services, p->n_rs, p->n_sched));
			for (uint32_t i = 0; i < ids.Length(); i++) {
				Napi::Value v = ids.Get(i);
				uint32_t id = v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : FN_MAX_RS;
				if (id >= FN_MAX_RS)
					Bad(env, "resetRealServers: ids must be < " + std::to_string(FN_MAX_RS));
				p->reset_rs[id >> 6] |= 1ULL << (id & 63);
			}
		}
		for (uint32_t i = 0; i < FN_NTIMEOUTS; i++) {
			Napi::Value v = timeouts.Get(i);
			if (!v.IsNumber() || v.As<Napi::Number>().Uint32Value() == 0)
				Bad(env, "timeouts must be positive numbers");
			p->timeouts_s[i] = v.As<Napi::Number>().Uint32Value();
		}
	} catch (...) {
		fn_plan_free(p);
		throw;
	}
	return p;
}
