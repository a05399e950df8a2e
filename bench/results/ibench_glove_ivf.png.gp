set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_ivf.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100-100k (n=100000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
22553.032 0.42310
25256.073 0.56865
19983.227 0.69725
12181.157 0.80115
21787.880 0.87815
6950.248 0.92695
7318.147 0.95500
EOD
$d1 << EOD
21633.319 0.42310
16479.071 0.56865
13203.202 0.69725
14007.210 0.80115
11702.399 0.87815
11194.924 0.92695
5473.845 0.95500
EOD
$d2 << EOD
37865.704 0.42315
26062.776 0.56945
21011.067 0.69950
14490.526 0.80620
9038.860 0.88790
6972.949 0.94095
3871.231 0.97430
EOD
$d3 << EOD
36617.821 0.42315
15378.622 0.56945
18695.586 0.69950
13421.963 0.80620
9259.125 0.88790
8339.530 0.94095
4486.029 0.97430
EOD
$d4 << EOD
572.581 0.88940
EOD
$d5 << EOD
551.388 0.88940
EOD
$d6 << EOD
6562.635 0.41135
6746.865 0.55960
5693.242 0.69145
4884.235 0.79040
3285.545 0.86455
1677.335 0.91045
1178.663 0.93705
EOD
$d7 << EOD
5908.699 0.41135
6857.167 0.55960
5367.216 0.69145
5249.225 0.79040
2924.949 0.86455
1794.067 0.91045
1068.297 0.93705
EOD
$d8 << EOD
EOD
$d9 << EOD
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'ivf:nlist=1024/pq:m=50,bits=4/rerank=4', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'ivf:nlist=1024/pq:m=50,bits=4/rerank=4 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'ivf:nlist=1024/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'ivf:nlist=1024/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'flat/rabitq:bits=1/rerank=10', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'flat/rabitq:bits=1/rerank=10 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:IVF1024,PQ50x4fs,RFlat@k_factor_rf=4', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:IVF1024,PQ50x4fs,RFlat@k_factor_rf=4 (2 thr)'
