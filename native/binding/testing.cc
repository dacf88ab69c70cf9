// Exports only tests and the bench use, registered apart as `testing`: the
// ring side of ring ports, the bench pump, the SYN cookie clock and the hash keys.
#include "testing.h"

#include <cstring>
#include <vector>

#include "dataplane.h"

extern "C" {
#include "fn_dp.h"
}

// ringInject(portIdx, queue, frames: Buffer[]) -> number accepted
static Napi::Value RingInject(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsArray())
		throw Napi::TypeError::New(env, "ringInject(portIdx, queue, frames)");
	Napi::Array a = info[2].As<Napi::Array>();
	std::vector<const uint8_t *> ptrs;
	std::vector<uint16_t> lens;
	for (uint32_t i = 0; i < a.Length(); i++) {
		Napi::Value v = a.Get(i);
		if (!v.IsBuffer())
			throw Napi::TypeError::New(env, "frames must be Buffers");
		auto b = v.As<Napi::Buffer<uint8_t>>();
		if (b.Length() > 9000)
			throw Napi::RangeError::New(env, "frame larger than 9000 bytes");
		ptrs.push_back(b.Data());
		lens.push_back(static_cast<uint16_t>(b.Length()));
	}
	unsigned n = fn_dp_ring_inject(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
				       ptrs.data(), lens.data(), static_cast<unsigned>(ptrs.size()));
	return Napi::Number::New(env, n);
}

// benchPump(portIdx, queue, frames: Buffer[], count) -> { injected, drained, cycles, tscHz }
static Napi::Value BenchPump(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsArray() || !info[3].IsNumber())
		throw Napi::TypeError::New(env, "benchPump(portIdx, queue, frames, count)");
	Napi::Array a = info[2].As<Napi::Array>();
	std::vector<const uint8_t *> ptrs;
	std::vector<uint16_t> lens;
	for (uint32_t i = 0; i < a.Length(); i++) {
		auto b = a.Get(i).As<Napi::Buffer<uint8_t>>();
		if (!a.Get(i).IsBuffer() || b.Length() > 2000)
			throw Napi::TypeError::New(env, "frames must be Buffers of at most 2000 bytes");
		ptrs.push_back(b.Data());
		lens.push_back(static_cast<uint16_t>(b.Length()));
	}
	fn_bench_result r;
	if (fn_dp_bench_pump(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(), ptrs.data(),
			     lens.data(), static_cast<unsigned>(ptrs.size()),
			     static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue()), &r) != 0)
		throw Napi::Error::New(env, "benchPump: not a running ring port/queue, or no frames");
	Napi::Object o = Napi::Object::New(env);
	o.Set("injected", static_cast<double>(r.injected));
	o.Set("drained", static_cast<double>(r.drained));
	o.Set("cycles", static_cast<double>(r.cycles));
	o.Set("tscHz", static_cast<double>(r.tsc_hz));
	return o;
}

// ringDrain(portIdx, queue, max = 1024) -> Buffer[]
static Napi::Value RingDrain(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
		throw Napi::TypeError::New(env, "ringDrain(portIdx, queue, max?)");
	unsigned max = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 1024;
	std::vector<uint8_t> buf(static_cast<size_t>(max) * 2304);
	std::vector<uint32_t> offs(max);
	std::vector<uint16_t> lens(max);
	unsigned n = fn_dp_ring_drain(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
				      buf.data(), buf.size(), offs.data(), lens.data(), max);
	Napi::Array out = Napi::Array::New(env, n);
	for (unsigned i = 0; i < n; i++)
		out.Set(i, Napi::Buffer<uint8_t>::Copy(env, buf.data() + offs[i], lens[i]));
	return out;
}

// hashKeys(set?: Buffer | null) -> Buffer: the hash keys in use (FN_HASH_KEY_WORDS
// uint64, host order). A Buffer pins those keys (only while the data plane is
// stopped), null unpins (the next start draws fresh ones).
static Napi::Value HashKeys(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	const size_t bytes = FN_HASH_KEY_WORDS * sizeof(uint64_t);
	uint64_t keys[FN_HASH_KEY_WORDS];
	const uint64_t *set = nullptr;
	if (info.Length() > 0 && info[0].IsNull()) {
		fn_dp_hash_keys_unpin();
	} else if (info.Length() > 0 && !info[0].IsUndefined()) {
		if (!info[0].IsBuffer() || info[0].As<Napi::Buffer<uint8_t>>().Length() != bytes)
			throw Napi::TypeError::New(env, "hashKeys(keys?): expected a Buffer of " + std::to_string(bytes) +
								" bytes or null");
		std::memcpy(keys, info[0].As<Napi::Buffer<uint8_t>>().Data(), bytes);
		set = keys;
	}
	if (fn_dp_hash_keys(keys, set) != 0)
		throw Napi::Error::New(env, "hashKeys: the keys change only while the data plane is stopped");
	return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t *>(keys), bytes);
}

Napi::Object TestingExports(Napi::Env env)
{
	Napi::Object t = Napi::Object::New(env);
	t.Set("ringInject", Napi::Function::New(env, RingInject));
	t.Set("ringDrain", Napi::Function::New(env, RingDrain));
	t.Set("benchPump", Napi::Function::New(env, BenchPump));
	t.Set("synProxyClockSkew", Napi::Function::New(env, SynProxyClockSkew));
	t.Set("hashKeys", Napi::Function::New(env, HashKeys));
	return t;
}
