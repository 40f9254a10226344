"""tools/gen_ref_optim.py -- PyTorch reference values for atto::optim (tests/optim/*.cpp).

Writes three headers:
  tests/reference/optim.h        parameter trajectories: 20 steps of every optimizer configuration on a
                                 small float64 MLP (tanh hidden layer, MSE loss); Lion against the float64
                                 reference below (not in PyTorch); clip_grad_norm_/clip_grad_value_.
  tests/reference/optim_lbfgs.h  LBFGS on Rosenbrock (fixed steps and strong Wolfe) and on the MLP.
  tests/reference/optim_sched.h  every scheduler's lr sequence over 30 steps (two param groups).

The C++ tests build the same configurations by name: keep the two lists in step.
"""
import math

import torch
import torch.nn.functional as F

from refgen import Ref

torch.manual_seed(0)
D = torch.float64
STEPS = 20

# ---- the model ------------------------------------------------------------------------------------------
x = torch.randn(8, 3, dtype=D)
y = torch.randn(8, 2, dtype=D)
init = [torch.randn(4, 3, dtype=D) * 0.5, torch.randn(4, dtype=D) * 0.1,
        torch.randn(2, 4, dtype=D) * 0.5, torch.randn(2, dtype=D) * 0.1]


def fresh_params(dtype=D):
    return [p.clone().to(dtype).requires_grad_(True) for p in init]


def mlp_loss(ps):
    w1, b1, w2, b2 = ps
    h = torch.tanh(F.linear(x.to(w1.dtype), w1, b1))
    return F.mse_loss(F.linear(h, w2, b2), y.to(w1.dtype))


def flat(ps):
    return torch.cat([p.detach().reshape(-1) for p in ps])


def trajectory(make_opt, steps=STEPS, dtype=D):
    ps = fresh_params(dtype)
    opt = make_opt(ps)
    rows = []
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(ps).backward()
        opt.step()
        rows.append(flat(ps))
    return torch.stack(rows)


class Lion(torch.optim.Optimizer):
    """The float64 reference for Lion: Program 1 of "Symbolic Discovery of Optimization Algorithms"
    in lion-pytorch's order of operations."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, wd, (beta1, beta2) = group["lr"], group["weight_decay"], group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(p)
                exp_avg = state["exp_avg"]
                p.mul_(1 - lr * wd)
                update = exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_()
                p.add_(update, alpha=-lr)
                exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)


O = torch.optim
NF = dict(foreach=False)


def groups(ps, first, rest):
    return [dict(params=ps[:2], **first), dict(params=ps[2:], **rest)]


CONFIGS = {
    "sgd": lambda ps: O.SGD(ps, lr=0.1, **NF),
    "sgd_momentum": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, **NF),
    "sgd_dampening": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3, **NF),
    "sgd_nesterov_wd": lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, **NF),
    "sgd_maximize": lambda ps: O.SGD(ps, lr=0.05, momentum=0.5, weight_decay=0.01, maximize=True, **NF),
    "sgd_groups": lambda ps: O.SGD(groups(ps, dict(lr=0.1, momentum=0.9), dict()), lr=0.01, **NF),
    "adam": lambda ps: O.Adam(ps, lr=0.01, **NF),
    "adam_amsgrad_wd": lambda ps: O.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1, **NF),
    "adam_maximize": lambda ps: O.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True, **NF),
    "adam_groups": lambda ps: O.Adam(groups(ps, dict(lr=0.02), dict(amsgrad=True)), lr=0.005, **NF),
    "adamw": lambda ps: O.AdamW(ps, lr=0.01, **NF),
    "adamw_amsgrad": lambda ps: O.AdamW(ps, lr=0.01, weight_decay=0.1, amsgrad=True, **NF),
    "adamw_maximize": lambda ps: O.AdamW(ps, lr=0.01, maximize=True, **NF),
    "rmsprop": lambda ps: O.RMSprop(ps, lr=0.01, **NF),
    "rmsprop_centered_momentum": lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, centered=True, momentum=0.9,
                                                      weight_decay=0.01, **NF),
    "rmsprop_momentum": lambda ps: O.RMSprop(ps, lr=0.01, momentum=0.5, eps=1e-6, **NF),
    "rmsprop_centered_maximize": lambda ps: O.RMSprop(ps, lr=0.005, centered=True, maximize=True, **NF),
    "adagrad": lambda ps: O.Adagrad(ps, lr=0.1, **NF),
    "adagrad_all": lambda ps: O.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                                        eps=1e-8, **NF),
    "adagrad_maximize": lambda ps: O.Adagrad(ps, lr=0.05, maximize=True, **NF),
    "adadelta": lambda ps: O.Adadelta(ps, **NF),
    "adadelta_all": lambda ps: O.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.01, **NF),
    "adadelta_maximize": lambda ps: O.Adadelta(ps, maximize=True, **NF),
    "adamax": lambda ps: O.Adamax(ps, lr=0.01, **NF),
    "adamax_wd_maximize": lambda ps: O.Adamax(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.05, maximize=True, **NF),
    "nadam": lambda ps: O.NAdam(ps, lr=0.01, **NF),
    "nadam_wd": lambda ps: O.NAdam(ps, lr=0.01, weight_decay=0.05, momentum_decay=0.01, **NF),
    "radam": lambda ps: O.RAdam(ps, lr=0.01, **NF),
    "radam_wd": lambda ps: O.RAdam(ps, lr=0.01, betas=(0.9, 0.9), weight_decay=0.05, **NF),
    "lion": lambda ps: Lion(ps, lr=1e-3),
    "lion_wd": lambda ps: Lion(ps, lr=3e-3, betas=(0.95, 0.98), weight_decay=0.1),
    "lion_maximize": lambda ps: Lion(ps, lr=1e-3, maximize=True),
}

ref = Ref("optim")
ref.add("x", x)
ref.add("y", y)
for i, p in enumerate(init):
    ref.add(f"init{i}", p)
for name, make in CONFIGS.items():
    ref.add(f"{name}_traj", trajectory(make))
# float32 parameters (the state follows the parameter's dtype; compared to 1e-5 relative).
for name in ["sgd_momentum", "adam_amsgrad_wd", "rmsprop_centered_momentum", "nadam", "radam"]:
    ref.add(f"{name}_f32_traj", trajectory(CONFIGS[name], dtype=torch.float32))

# ---- gradient clipping: the grads of the MLP at the initial parameters ---------------------------------------
for name, max_norm, norm_type in [("l2", 0.05, 2.0), ("l1", 0.1, 1.0), ("inf", 0.02, math.inf), ("l3", 0.05, 3.0),
                                  ("noclip", 100.0, 2.0)]:
    ps = fresh_params()
    mlp_loss(ps).backward()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    ref.add(f"clip_{name}_total", total)
    ref.add(f"clip_{name}_grads", torch.cat([p.grad.reshape(-1) for p in ps]))
ps = fresh_params()
mlp_loss(ps).backward()
torch.nn.utils.clip_grad_value_(ps, 0.05)
ref.add("clip_value_grads", torch.cat([p.grad.reshape(-1) for p in ps]))
ref.write()

# ---- LBFGS -----------------------------------------------------------------------------------------------------
lref = Ref("optim_lbfgs")


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def lbfgs_run(params, loss_fn, steps, **kw):
    opt = O.LBFGS(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    rows, losses, evals = [], [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure)))
        rows.append(flat(params))
        st = opt.state[params[0]]
        evals.append([st["func_evals"], st["n_iter"]])
    return torch.stack(rows), torch.tensor(losses, dtype=D), torch.tensor(evals, dtype=D)


LBFGS_CONFIGS = {
    "rosen_plain": ("rosen", 6, dict(lr=0.1, max_iter=5)),
    "rosen_wolfe": ("rosen", 6, dict(max_iter=5, line_search_fn="strong_wolfe")),
    "rosen_wolfe_history": ("rosen", 5, dict(max_iter=8, history_size=3, line_search_fn="strong_wolfe")),
    "rosen_default": ("rosen", 3, dict(line_search_fn="strong_wolfe")),
    "mlp_wolfe": ("mlp", 3, dict(max_iter=10, line_search_fn="strong_wolfe")),
    "mlp_plain": ("mlp", 3, dict(lr=0.5, max_iter=6, history_size=4)),
}
rosen_start = torch.tensor([-1.5, 2.0], dtype=D)
lref.add("rosen_start", rosen_start)
for name, (problem, steps, kw) in LBFGS_CONFIGS.items():
    if problem == "rosen":
        params, fn = [rosen_start.clone().requires_grad_(True)], lambda ps: rosenbrock(ps[0])
    else:
        params, fn = fresh_params(), mlp_loss
    traj, losses, evals = lbfgs_run(params, fn, steps, **kw)
    lref.add(f"{name}_traj", traj)
    lref.add(f"{name}_loss", losses)
    lref.add(f"{name}_evals", evals)
lref.write()

# ---- schedulers ------------------------------------------------------------------------------------------------
sref = Ref("optim_sched")
S = O.lr_scheduler
SCHED_STEPS = 30


def sched_opt(kind="sgd"):
    p1, p2 = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    if kind == "adam":
        return O.Adam([dict(params=[p1]), dict(params=[p2], lr=0.05)], lr=0.1)
    return O.SGD([dict(params=[p1]), dict(params=[p2], lr=0.05)], lr=0.1, momentum=0.9)


def momentum_of(opt, group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def lr_sequence(make_sched, kind="sgd", steps=SCHED_STEPS):
    opt = sched_opt(kind)
    sched = make_sched(opt)
    lrs, moms = [list(sched.get_last_lr())], [[momentum_of(opt, g) for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        moms.append([momentum_of(opt, g) for g in opt.param_groups])
    return torch.tensor(lrs, dtype=D), torch.tensor(moms, dtype=D)


SCHEDULERS = {
    "lambda": lambda o: S.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1.0 / (e + 1)]),
    "multiplicative": lambda o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.97),
    "step": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda o: S.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3),
    "constant": lambda o: S.ConstantLR(o, factor=0.25, total_iters=6),
    "linear": lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
    "linear_down": lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=12),
    "exponential": lambda o: S.ExponentialLR(o, gamma=0.9),
    "polynomial": lambda o: S.PolynomialLR(o, total_iters=12, power=2.0),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "cosine_long": lambda o: S.CosineAnnealingLR(o, T_max=40),
    "warm_restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01),
    "warm_restarts_1": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7),
    "onecycle_cos": lambda o: S.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=30),
    "onecycle_linear": lambda o: S.OneCycleLR(o, max_lr=0.4, total_steps=35, anneal_strategy="linear",
                                              pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "onecycle_three_phase": lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=30, three_phase=True,
                                                   base_momentum=0.8, max_momentum=0.9),
    "onecycle_nomomentum": lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=32, cycle_momentum=False),
    "seq_warmup_cosine": lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                      S.CosineAnnealingLR(o, T_max=20, eta_min=0.001)],
                                                  milestones=[5]),
    "seq_three": lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=3), S.ExponentialLR(o, 0.9),
                                              S.StepLR(o, 5, 0.5)], milestones=[4, 12]),
}
for name, make in SCHEDULERS.items():
    lrs, moms = lr_sequence(make)
    sref.add(f"{name}_lr", lrs)
    if name.startswith("onecycle"):
        sref.add(f"{name}_momentum", moms)
lrs, moms = lr_sequence(lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=30), kind="adam")
sref.add("onecycle_adam_lr", lrs)
sref.add("onecycle_adam_momentum", moms)

# ReduceLROnPlateau on a fixed metric sequence: falls, stalls, wobbles.
g = torch.Generator().manual_seed(1)
metrics = [1.0 / (1 + 0.4 * min(i, 8)) + 0.01 * float(torch.rand(1, generator=g, dtype=D)) for i in range(SCHED_STEPS)]
sref.add("plateau_metrics", torch.tensor(metrics, dtype=D))
PLATEAU = {
    "plateau_min_rel": dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.01),
    "plateau_min_abs": dict(mode="min", factor=0.5, patience=1, threshold=0.002, threshold_mode="abs",
                            min_lr=[0.02, 0.001]),
    "plateau_max_rel": dict(mode="max", factor=0.3, patience=3),
    "plateau_max_abs": dict(mode="max", factor=0.7, patience=0, threshold=0.001, threshold_mode="abs", cooldown=2),
}
for name, kw in PLATEAU.items():
    opt = sched_opt()
    sched = S.ReduceLROnPlateau(opt, **kw)
    lrs = [[g["lr"] for g in opt.param_groups]]
    for m in metrics:
        opt.step()
        sched.step(m)
        lrs.append(list(sched._last_lr))
    sref.add(f"{name}_lr", torch.tensor(lrs, dtype=D))
sref.write()
