// start/stop and the copying read calls: nothing here blocks on the data plane.
#include "dataplane.h"

#include <arpa/inet.h>
#include <cstdio>
#include <vector>

#include "marshal.h"

static std::string MacString(const uint8_t *m)
{
	char b[18];
	std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return b;
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
	return env.Undefined();
}

Napi::Value Stop(const Napi::CallbackInfo &info)
{
	fn_dp_stop();
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
	return o;
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
