#pragma once
#include <napi.h>

Napi::Value EalInit(const Napi::CallbackInfo &info);
