// Entry point: registers the exports, nothing else.
#include <napi.h>

#include "constants.h"
#include "dataplane.h"
#include "eal.h"
#include "testing.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("ealInit", Napi::Function::New(env, EalInit));
	exports.Set("ealCleanup", Napi::Function::New(env, EalCleanup));
	exports.Set("start", Napi::Function::New(env, Start));
	exports.Set("stop", Napi::Function::New(env, Stop));
	exports.Set("counterNames", Napi::Function::New(env, CounterNames));
	exports.Set("constants", Constants(env));
	exports.Set("readCounters", Napi::Function::New(env, ReadCounters));
	exports.Set("portInfo", Napi::Function::New(env, PortInfo));
	exports.Set("neighbours", Napi::Function::New(env, Neighbours));
	exports.Set("workerNodes", Napi::Function::New(env, WorkerNodes));
	exports.Set("apply", Napi::Function::New(env, Apply));
	exports.Set("readRealServers", Napi::Function::New(env, ReadRealServers));
	exports.Set("sessions", Napi::Function::New(env, Sessions));
	exports.Set("readServices", Napi::Function::New(env, ReadServices));
	exports.Set("testing", TestingExports(env)); // tests and bench only
	return exports;
}

NODE_API_MODULE(fullnat, Init)
