// JS objects -> data-plane structs. The control plane validated everything;
// these are cheap backstops that throw a TypeError naming the field.
#pragma once
#include <napi.h>

extern "C" {
#include "fn_dp.h"
}

void CfgFromJs(const Napi::Object &o, fn_dp_cfg *cfg);
fn_plan *PlanFromJs(const Napi::Object &o);
