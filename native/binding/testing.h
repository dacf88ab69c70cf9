#pragma once
#include <napi.h>

// The `testing` export group: hooks for tests and the bench, not the product.
Napi::Object TestingExports(Napi::Env env);
