#pragma once
#include <napi.h>

Napi::Value Start(const Napi::CallbackInfo &info);
Napi::Value Stop(const Napi::CallbackInfo &info);
Napi::Value CounterNames(const Napi::CallbackInfo &info);
Napi::Value ReadCounters(const Napi::CallbackInfo &info);
Napi::Value PortInfo(const Napi::CallbackInfo &info);
Napi::Value Neighbours(const Napi::CallbackInfo &info);
Napi::Value WorkerNodes(const Napi::CallbackInfo &info);
Napi::Value Apply(const Napi::CallbackInfo &info);
Napi::Value ReadRealServers(const Napi::CallbackInfo &info);
Napi::Value Sessions(const Napi::CallbackInfo &info);
Napi::Value ReadServices(const Napi::CallbackInfo &info);
Napi::Value SynProxyClockSkew(const Napi::CallbackInfo &info);
