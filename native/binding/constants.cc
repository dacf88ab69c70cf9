// The addon's `constants`: what the C side compiled with, for TypeScript to check
// src/generated/consts.ts against (same lists, same shape, names in lower case).
#include "constants.h"

#include <cctype>
#include <string>

extern "C" {
#include "fn_consts.h"
}

static std::string Lower(const char *s)
{
	std::string r(s);
	for (char &c : r)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return r;
}

Napi::Object Constants(Napi::Env env)
{
	Napi::Object sched = Napi::Object::New(env);
#define FN_X_SCHED(n) sched.Set(Lower(#n), static_cast<uint32_t>(FN_SCHED_##n));
	FN_SCHED_KINDS(FN_X_SCHED)
#undef FN_X_SCHED

	// TCP state names stay upper case: they are what `fullnat sessions` prints.
	Napi::Array tcp = Napi::Array::New(env, FN_NTCP_STATES);
#define FN_X_TCP(n) tcp.Set(static_cast<uint32_t>(FN_TCP_##n), #n);
	FN_TCP_STATES(FN_X_TCP)
#undef FN_X_TCP

	// Timeout slots by position, named as the config's sessions.timeouts keys.
	Napi::Array timeouts = Napi::Array::New(env, FN_NTIMEOUTS);
#define FN_X_TO(n) timeouts.Set(static_cast<uint32_t>(FN_TO_##n), Lower(#n));
	FN_TIMEOUTS(FN_X_TO)
#undef FN_X_TO

	Napi::Object bytes = Napi::Object::New(env);
#define FN_X_BYTES(n, b) bytes.Set(Lower(#n), static_cast<uint32_t>(FN_BYTES_##n));
	FN_SESSION_BYTES(FN_X_BYTES)
#undef FN_X_BYTES

	sched.Freeze();
	tcp.Freeze();
	timeouts.Freeze();
	bytes.Freeze();
	Napi::Object o = Napi::Object::New(env);
	o.Set("schedKinds", sched);
	o.Set("tcpStates", tcp);
	o.Set("timeouts", timeouts);
	o.Set("sessionBytes", bytes);
	o.Freeze();
	return o;
}
