// rte_eal_init from the Node main thread, once per process. Arguments were
// built and validated in TypeScript (EAL prints usage text on bad ones).
#include "eal.h"

#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>

static bool eal_done = false;

Napi::Value EalInit(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (eal_done)
		throw Napi::Error::New(env, "EAL is already initialised in this process");
	if (info.Length() < 1 || !info[0].IsArray())
		throw Napi::TypeError::New(env, "ealInit(args: string[])");
	Napi::Array a = info[0].As<Napi::Array>();
	// EAL may keep pointers into argv: these strings live as long as the process.
	static std::vector<char *> argv;
	argv.push_back(strdup("fullnat"));
	for (uint32_t i = 0; i < a.Length(); i++)
		argv.push_back(strdup(a.Get(i).ToString().Utf8Value().c_str()));
	argv.push_back(nullptr);
	int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
	if (rc < 0)
		throw Napi::Error::New(env, std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno));
	eal_done = true;
	return env.Undefined();
}

// Releases EAL memory (hugepage files included). The process exits after it:
// EAL cannot be initialised twice.
Napi::Value EalCleanup(const Napi::CallbackInfo &info)
{
	if (eal_done)
		rte_eal_cleanup();
	eal_done = false;
	return info.Env().Undefined();
}
