"""The original WGAN (Arjovsky et al., 2017): a Wasserstein critic kept Lipschitz by
clipping its weights."""

from keras import ops

from anime_gan import losses
from anime_gan.errors import check_real_number
from anime_gan.models.critic_loop import CriticLoopGAN


class WGANClip(CriticLoopGAN):
    """Algorithm 1 of the paper: ``n_critic`` critic updates on E[f(G(z))] - E[f(x)], each
    followed by clipping every critic weight to [-c, c], then one generator update on
    -E[f(G(z))].  The paper's defaults: c = 0.01, RMSProp at 5e-5, n_critic = 5.

    ``wasserstein`` is the critic's estimate E[f(x)] - E[f(G(z))].
    """

    metric_names = ("d_loss", "g_loss", "wasserstein")

    def __init__(self, generator, critic, n_critic=5, clip_value=0.01, **kwargs):
        check_real_number("WGANClip", "clip_value", clip_value, 0, low_allowed=False)
        super().__init__(generator, critic, n_critic=n_critic, **kwargs)
        self.clip_value = clip_value

    def critic_loss(self, real_scores, fake_scores, real_images, fake_images):
        critic_loss = losses.critic_wasserstein_loss(real_scores, fake_scores)
        return critic_loss, {"wasserstein": -critic_loss}

    def generator_loss(self, fake_scores):
        return losses.generator_wasserstein_loss(fake_scores)

    def after_critic_update(self):
        for weight in self.discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))
