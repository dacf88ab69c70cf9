#pragma once
#include <napi.h>

Napi::Value EalInit(const Napi::CallbackInfo &info);
Napi::Value EalCleanup(const Napi::CallbackInfo &info);
