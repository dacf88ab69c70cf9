#pragma once
#include <napi.h>

Napi::Value RingInject(const Napi::CallbackInfo &info);
Napi::Value RingDrain(const Napi::CallbackInfo &info);
Napi::Value BenchPump(const Napi::CallbackInfo &info);
