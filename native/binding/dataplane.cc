// start/stop and the copying read calls: nothing here blocks on the data plane.
#include "dataplane.h"

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <vector>

#include "marshal.h"

#include <rte_ethdev.h>

static std::string MacString(const uint8_t *m)
{
	char b[18];
	std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return b;
}

// Workers and the control thread belong to the environment that started them
// (node-usb's model): if it ends without stop(), they are stopped (flag +
// join) before the process is torn down under them. Node runs environment
// cleanup hooks when the event loop ends or a worker_threads environment goes
// away, but not on process.exit(), which goes straight to exit(): an atexit
// handler covers that. Both end in fn_dp_stop(), a no-op once stopped.
static napi_env stop_hook_env = nullptr; // the environment whose cleanup hook is registered
static pthread_t starter;                // the thread that called start(): EAL's main lcore

static void StopUnstopped(const char *how)
{
	if (!fn_dp_running() || !pthread_equal(pthread_self(), starter))
		return; // stopped already; or exit() from another thread, which must not join itself
	fn_dp_stop();
	if (std::getenv("FULLNAT_TRACE_CLEANUP")) // lets tests see which path did the stopping
		std::fprintf(stderr, "fullnat: data plane stopped by %s\n", how);
}

static void StopAtEnvCleanup(void *)
{
	stop_hook_env = nullptr;
	StopUnstopped("the environment cleanup hook");
}

static void StopAtExit()
{
	StopUnstopped("the exit handler");
}

static void GuardAgainstExitWithoutStop(napi_env env)
{
	static bool at_exit_registered = false;
	starter = pthread_self();
	if (!at_exit_registered)
		at_exit_registered = std::atexit(StopAtExit) == 0;
	if (!stop_hook_env && napi_add_env_cleanup_hook(env, StopAtEnvCleanup, nullptr) == napi_ok)
		stop_hook_env = env;
}

Napi::Value Start(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject())
		throw Napi::TypeError::New(env, "start(config, plan)");
	fn_dp_cfg cfg;
	CfgFromJs(info[0].As<Napi::Object>(), &cfg);
	fn_plan *plan = PlanFromJs(info[1].As<Napi::Object>());
	char err[512] = "";
	if (fn_dp_start(&cfg, plan, err, sizeof(err)) != 0) // takes the plan in all cases
		throw Napi::Error::New(env, err);
	GuardAgainstExitWithoutStop(env);
	return env.Undefined();
}

Napi::Value Stop(const Napi::CallbackInfo &info)
{
	fn_dp_stop();
	if (stop_hook_env == info.Env() && napi_remove_env_cleanup_hook(stop_hook_env, StopAtEnvCleanup, nullptr) == napi_ok)
		stop_hook_env = nullptr;
	return info.Env().Undefined();
}

Napi::Value CounterNames(const Napi::CallbackInfo &info)
{
	static const char *names[] = {
#define FN_X_NAME(n) #n,
		FN_COUNTERS(FN_X_NAME)
#undef FN_X_NAME
	};
	Napi::Array a = Napi::Array::New(info.Env(), FN_NCOUNTERS);
	for (uint32_t i = 0; i < FN_NCOUNTERS; i++)
		a.Set(i, names[i]);
	return a;
}

// Returns a Float64Array of threads x counters (workers first, control last).
Napi::Value ReadCounters(const Napi::CallbackInfo &info)
{
	std::vector<fn_counters> c(FN_MAX_WORKERS + 1);
	unsigned n = fn_dp_read_counters(c.data(), static_cast<unsigned>(c.size()));
	Napi::Float64Array out = Napi::Float64Array::New(info.Env(), static_cast<size_t>(n) * FN_NCOUNTERS);
	for (unsigned t = 0; t < n; t++)
		for (unsigned i = 0; i < FN_NCOUNTERS; i++)
			out[t * FN_NCOUNTERS + i] = static_cast<double>(c[t].v[i]);
	return out;
}

Napi::Value PortInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	fn_port_info pi;
	if (info.Length() < 1 || !info[0].IsNumber() || fn_dp_port_info(info[0].As<Napi::Number>().Uint32Value(), &pi) != 0)
		return env.Null();
	Napi::Object o = Napi::Object::New(env);
	o.Set("portId", pi.port_id);
	o.Set("mac", MacString(pi.mac));
	o.Set("driver", pi.driver);
	o.Set("linkUp", pi.link_up != 0);
	o.Set("linkSpeedMbps", pi.link_speed_mbps);
	static const char *modes[] = {"auto", "flow", "redirect", "none"};
	o.Set("steering", modes[pi.steering < 4 ? pi.steering : 0]);
	o.Set("steeringReason", pi.steering_why);
	o.Set("spreading", pi.spreading);
	o.Set("kernelPortId", pi.kernel_port_id);
	o.Set("maxRxQueues", pi.max_rx_queues);
	o.Set("maxTxQueues", pi.max_tx_queues);
	o.Set("retaSize", pi.reta_size);
	o.Set("numaNode", pi.numa_node);
	o.Set("memNode", pi.mem_node);
	o.Set("rss", pi.rss_offloads != 0);
	Napi::Array tx = Napi::Array::New(info.Env()), rx = Napi::Array::New(info.Env());
	uint32_t nt = 0, nr = 0;
	for (uint64_t bit = 1; bit; bit <<= 1) {
		if (pi.tx_offload_capa & bit)
			tx.Set(nt++, rte_eth_dev_tx_offload_name(bit));
		if (pi.rx_offload_capa & bit)
			rx.Set(nr++, rte_eth_dev_rx_offload_name(bit));
	}
	o.Set("txOffloads", tx);
	o.Set("rxOffloads", rx);
	return o;
}

// workerNodes() -> NUMA node of each worker's lcore (its session table is there)
Napi::Value WorkerNodes(const Napi::CallbackInfo &info)
{
	Napi::Array a = Napi::Array::New(info.Env());
	for (uint32_t i = 0;; i++) {
		int n = fn_dp_worker_node(i);
		if (n < 0)
			break;
		a.Set(i, n);
	}
	return a;
}

Napi::Value Neighbours(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::vector<fn_neigh_info> v(4096);
	unsigned n = fn_dp_neighbours(v.data(), static_cast<unsigned>(v.size()));
	Napi::Array a = Napi::Array::New(env, n);
	for (unsigned i = 0; i < n; i++) {
		Napi::Object o = Napi::Object::New(env);
		o.Set("ip", static_cast<double>(ntohl(v[i].ip)));
		o.Set("portIdx", v[i].port_idx);
		o.Set("resolved", v[i].resolved != 0);
		o.Set("mac", v[i].resolved ? Napi::Value(Napi::String::New(env, MacString(v[i].mac))) : env.Null());
		a.Set(i, o);
	}
	return a;
}

// apply(plan): publish a new plan; returns after the old one is unreachable.
Napi::Value Apply(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsObject())
		throw Napi::TypeError::New(env, "apply(plan)");
	fn_plan *plan = PlanFromJs(info[0].As<Napi::Object>());
	char err[512] = "";
	if (fn_dp_apply(plan, err, sizeof(err)) != 0) // takes the plan in all cases
		throw Napi::Error::New(env, err);
	return env.Undefined();
}

// readRealServers(n) -> { active: Float64Array(n), created: Float64Array(n) }, indexed by id
Napi::Value ReadRealServers(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	unsigned n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
	if (n > FN_MAX_RS)
		n = FN_MAX_RS;
	std::vector<int64_t> active(n + 1);
	std::vector<uint64_t> created(n + 1);
	n = fn_dp_read_rs(n, active.data(), created.data());
	Napi::Float64Array a = Napi::Float64Array::New(env, n), c = Napi::Float64Array::New(env, n);
	for (unsigned i = 0; i < n; i++) {
		a[i] = static_cast<double>(active[i]);
		c[i] = static_cast<double>(created[i]);
	}
	Napi::Object o = Napi::Object::New(env);
	o.Set("active", a);
	o.Set("created", c);
	return o;
}

// readServices(n) -> { active: Float64Array(n), lportExhausted: Float64Array(n) }, indexed by service id
Napi::Value ReadServices(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	unsigned n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
	if (n > FN_MAX_SVC)
		n = FN_MAX_SVC;
	std::vector<int64_t> active(n + 1);
	std::vector<uint64_t> exh(n + 1);
	n = fn_dp_read_services(n, active.data(), exh.data());
	Napi::Float64Array a = Napi::Float64Array::New(env, n), e = Napi::Float64Array::New(env, n);
	for (unsigned i = 0; i < n; i++) {
		a[i] = static_cast<double>(active[i]);
		e[i] = static_cast<double>(exh[i]);
	}
	Napi::Object o = Napi::Object::New(env);
	o.Set("active", a);
	o.Set("lportExhausted", e);
	return o;
}

// sessions({ vip?, rip?, cip? } host-order numbers, max) -> session records:
// addresses and ports host order, state an fn_tcp_state index (TypeScript names and formats them).
Napi::Value Sessions(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	fn_session_filter f = {0, 0, 0};
	if (info.Length() > 0 && info[0].IsObject()) {
		Napi::Object o = info[0].As<Napi::Object>();
		auto get = [&](const char *k) {
			Napi::Value v = o.Get(k);
			return v.IsNumber() ? htonl(v.As<Napi::Number>().Uint32Value()) : 0u;
		};
		f.vip = get("vip");
		f.rip = get("rip");
		f.cip = get("cip");
	}
	unsigned max = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 100;
	if (max > 1000000)
		max = 1000000;
	std::vector<fn_session_info> v(max + 1);
	unsigned n = fn_dp_sessions(&f, v.data(), max);
	Napi::Array out = Napi::Array::New(env, n);
	for (unsigned i = 0; i < n; i++) {
		const fn_session_info &s = v[i];
		Napi::Object o = Napi::Object::New(env);
		o.Set("proto", s.proto);
		o.Set("cip", static_cast<double>(ntohl(s.cip)));
		o.Set("cport", ntohs(s.cport));
		o.Set("vip", static_cast<double>(ntohl(s.vip)));
		o.Set("vport", ntohs(s.vport));
		o.Set("lip", static_cast<double>(ntohl(s.lip)));
		o.Set("lport", ntohs(s.lport));
		o.Set("rip", static_cast<double>(ntohl(s.rip)));
		o.Set("rport", ntohs(s.rport));
		o.Set("state", s.state);
		o.Set("worker", s.worker);
		o.Set("serviceId", s.svc_id);
		o.Set("realServerId", s.rs_id);
		o.Set("expiresMs", s.expires_ms);
		out.Set(i, o);
	}
	return out;
}

// synProxyClockSkew(seconds): tests only, shifts the SYN cookie clock.
Napi::Value SynProxyClockSkew(const Napi::CallbackInfo &info)
{
	if (info.Length() < 1 || !info[0].IsNumber())
		throw Napi::TypeError::New(info.Env(), "synProxyClockSkew(seconds): expected a number");
	fn_sp_clock_skew(info[0].As<Napi::Number>().Int64Value());
	return info.Env().Undefined();
}
