"""Each model's own settings: the defaults from its paper and our measurements, and
the settings only some models use.  ``TrainConfig`` fills its unset fields from them."""

MODELS = ("dcgan", "wgan", "wgan_clip", "sngan")

# DiffAugment by model: measured much better for the DCGAN (README); not yet measured for
# the others.
DIFFAUGMENT_DEFAULTS = {"dcgan": "color,translation,cutout", "wgan": "", "wgan_clip": "",
                        "sngan": ""}

# Steps between checkpoints: a few minutes of work on a small CPU.
CHECKPOINT_EVERY_DEFAULTS = {"dcgan": 200, "wgan": 40, "wgan_clip": 40, "sngan": 200}

# Discriminator updates per generator update, from the papers.
N_CRITIC_DEFAULTS = {"dcgan": 1, "wgan": 5, "wgan_clip": 5, "sngan": 1}

# The settings only some models use.
MODEL_SPECIFIC = {"n_critic": ("wgan", "wgan_clip", "sngan"), "gp_weight": ("wgan",),
                  "clip_value": ("wgan_clip",)}

# Optimizer defaults from the papers: DCGAN (Radford et al.), WGAN-GP (Gulrajani et al.),
# WGAN (Arjovsky et al.: RMSProp) and SNGAN (Miyato et al., the standard-CNN setting C).
OPTIMIZER_DEFAULTS = {
    "dcgan": {"optimizer": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
    "wgan": {"optimizer": "adam", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9},
    "wgan_clip": {"optimizer": "rmsprop", "lr": 5e-5, "beta1": 0.0, "beta2": 0.0},
    "sngan": {"optimizer": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
}

# Adam's betas for a model whose paper uses RMSProp (the WGAN's critic): WGAN-GP's, which
# has the same Wasserstein critic.
ADAM_BETAS_FOR_CRITICS = {"beta1": 0.0, "beta2": 0.9}
