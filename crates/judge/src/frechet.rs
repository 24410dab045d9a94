//! The Fréchet distance between two sets of feature vectors, each taken as a Gaussian (as FID
//! and FAD do): `|μa − μb|² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½)`. Unlike an AUC it does not
//! saturate: it keeps ranking arms that a classifier tells apart from real music every time.

use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linalg::traits::evd::EVDDecomposable;

fn mean_cov(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let d = rows[0].len();
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let mut cov = vec![vec![0.0; d]; d];
    for r in rows {
        for i in 0..d {
            for j in 0..d {
                cov[i][j] += (r[i] - mean[i]) * (r[j] - mean[j]) / (n - 1.0).max(1.0);
            }
        }
    }
    (mean, cov)
}

fn matmul(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let (n, m, p) = (a.len(), b.len(), b[0].len());
    (0..n).map(|i| (0..p).map(|j| (0..m).map(|k| a[i][k] * b[k][j]).sum()).collect()).collect()
}

/// The eigenvalues and eigenvectors (columns) of a symmetric matrix.
fn eigen_sym(a: &[Vec<f64>]) -> Result<(Vec<f64>, Vec<Vec<f64>>), String> {
    let m = DenseMatrix::from_2d_vec(&a.to_vec()).map_err(|e| e.to_string())?;
    let evd = m.evd(true).map_err(|e| e.to_string())?;
    let d = a.len();
    Ok((evd.d.clone(), (0..d).map(|i| (0..d).map(|j| *evd.V.get((i, j))).collect()).collect()))
}

/// The square root of a symmetric positive semi-definite matrix (negative rounding clipped).
fn sqrtm(a: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, String> {
    let (w, v) = eigen_sym(a)?;
    let d = a.len();
    Ok((0..d)
        .map(|i| (0..d).map(|j| (0..d).map(|k| v[i][k] * w[k].max(0.0).sqrt() * v[j][k]).sum()).collect())
        .collect())
}

/// The Fréchet distance between the Gaussians fitted to `a` and `b` (rows of equal length;
/// each side needs two rows or more).
pub fn frechet_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> Result<f64, String> {
    if a.len() < 2 || b.len() < 2 {
        return Err("the Fréchet distance needs two windows or more on each side".into());
    }
    let (ma, ca) = mean_cov(a);
    let (mb, cb) = mean_cov(b);
    let sa = sqrtm(&ca)?;
    let mut m = matmul(&matmul(&sa, &cb), &sa);
    // Symmetrise what rounding left.
    let d = m.len();
    for i in 0..d {
        for j in 0..i {
            let s = 0.5 * (m[i][j] + m[j][i]);
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    let (w, _) = eigen_sym(&m)?;
    let tr_sqrt: f64 = w.iter().map(|x| x.max(0.0).sqrt()).sum();
    let dm: f64 = ma.iter().zip(&mb).map(|(x, y)| (x - y).powi(2)).sum();
    let tr: f64 = (0..d).map(|i| ca[i][i] + cb[i][i]).sum();
    Ok((dm + tr - 2.0 * tr_sqrt).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For diagonal covariances the distance is `|μa − μb|² + Σ (σa − σb)²`: worked by hand.
    #[test]
    fn frechet_of_diagonal_gaussians_worked_by_hand() {
        // Side a: x ∈ {−1, 1} × y ∈ {−2, 2} (means 0, sample variances 4/3 and 16/3).
        let a: Vec<Vec<f64>> =
            [(-1.0, -2.0), (-1.0, 2.0), (1.0, -2.0), (1.0, 2.0)].iter().map(|&(x, y)| vec![x, y]).collect();
        // Side b: the same shifted by (3, 0) and x scaled by 2.
        let b: Vec<Vec<f64>> = a.iter().map(|r| vec![2.0 * r[0] + 3.0, r[1]]).collect();
        let sa = (4.0f64 / 3.0).sqrt();
        let expected = 9.0 + (2.0 * sa - sa).powi(2);
        let got = frechet_distance(&a, &b).unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!(frechet_distance(&a, &a).unwrap() < 1e-9);
    }
}
