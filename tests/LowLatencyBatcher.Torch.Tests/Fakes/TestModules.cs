using TorchSharp;
using static TorchSharp.torch;

namespace LowLatencyBatcher.Torch.Tests.Fakes;

/// <summary>Returns, per row: the sum of the ids under the mask, the number of true mask entries, and the padded length.</summary>
internal sealed class MaskedSumModule() : nn.Module<Tensor, Tensor, Tensor>(nameof(MaskedSumModule))
{
    public override Tensor forward(Tensor ids, Tensor mask)
    {
        Tensor sum = ids.mul(mask).sum(1).to(float32);
        Tensor count = mask.sum(1).to(float32);
        Tensor length = full_like(count, ids.shape[1]);
        return stack([sum, count, length], 1);
    }
}

/// <summary>Returns the ids themselves as a per-token output, <c>[B, L, 1]</c>.</summary>
internal sealed class EchoModule() : nn.Module<Tensor, Tensor, Tensor>(nameof(EchoModule))
{
    public override Tensor forward(Tensor ids, Tensor mask) => ids.to(float32).unsqueeze(-1);
}

/// <summary>Fails whenever a batch contains the id 666.</summary>
internal sealed class PickyModule() : nn.Module<Tensor, Tensor, Tensor>(nameof(PickyModule))
{
    public override Tensor forward(Tensor ids, Tensor mask)
    {
        if (ids.eq(666).any().item<bool>())
        {
            throw new InvalidOperationException("666 is not allowed");
        }

        return mask.sum(1).to(float32).unsqueeze(1);
    }
}
