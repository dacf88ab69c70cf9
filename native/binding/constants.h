// The names and figures of native/include/fn_consts.h as one frozen object
// (the addon's `constants`), expanded from the same X-macro lists as the C enums.
#pragma once
#include <napi.h>

Napi::Object Constants(Napi::Env env);
